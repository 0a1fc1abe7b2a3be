"""`intentgate serve` as a real process: startup, debug event log, SIGHUP model reload, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.models import bundled_model_bytes
from tests.servers import free_port

BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("serve did not come up")


@pytest.fixture
def served(origin: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    model = tmp_path / "model.json"
    model.write_bytes(bundled_model_bytes())
    port = free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, INTENTGATE_SECRET="c" * 32, INTENTGATE_DATA_DIR=str(tmp_path / "d"),
               INTENTGATE_ADMIN_LISTEN="127.0.0.1:0")  # never the shared default port
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxy.commands.cli", "serve", "--upstream", origin, "--port",
             str(port), "--model", str(model), "--log-level", "debug", "--expose-headers"],
            env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/_intentgate/health", proc)
        yield url, proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def test_serve_logs_events_at_debug_and_reloads_the_model_on_sighup(
    served: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, proc, tmp = served
    first = load_model(bundled_model_bytes()).version
    assert httpx.get(f"{url}/_intentgate/health").json()["model"] == first
    with httpx.Client(base_url=url, headers=BROWSER) as c:
        c.get("/products/phone-pro")
        c.get("/search?q=lamp")
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["display_name"] = card["display_name"] + " (v2)"
    (tmp / "model.json").write_bytes(seal(content))
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while httpx.get(f"{url}/_intentgate/health").json()["model"] == first:
        assert time.monotonic() < deadline, "SIGHUP did not swap the model"
        time.sleep(0.2)
    r = httpx.get(f"{url}/products/a", headers=BROWSER)
    assert r.headers["x-intent-model"] != first
    proc.send_signal(signal.SIGTERM)
    # uvicorn drains, then re-raises the signal: a graceful exit reads as -SIGTERM.
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    log = (tmp / "serve.log").read_text()
    assert "Finished server process" in log
    assert "event product_view" in log and "event search" in log and "query=lamp" in log


def test_serve_refuses_a_bad_model_file_at_startup(origin: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1}')
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.commands.cli", "serve", "--upstream", origin, "--port",
         str(free_port()), "--model", str(bad), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, INTENTGATE_SECRET="c" * 32, INTENTGATE_ADMIN_LISTEN="127.0.0.1:0"))
    assert proc.returncode != 0
    assert "bad.json" in proc.stderr and "refused" in proc.stderr


def test_serve_drains_in_flight_requests_on_sigterm(
    served: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    import threading

    url, proc, _ = served
    result: list[int] = []

    def slow() -> None:
        result.append(httpx.get(f"{url}/sleep?s=1.5", timeout=10).status_code)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)
    proc.send_signal(signal.SIGTERM)
    t.join(timeout=10)
    assert result == [200]  # the request in flight was finished, not cut
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
