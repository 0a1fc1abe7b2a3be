"""The admin surface on its own listener, against a real proxy on loopback: which port serves
what, the address allow-list (forwarded addresses only from trusted hops), role and hashed
tokens, throttled failures, audited actions and the headers on admin responses."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.models import bundled_model_bytes
from tests.redisproc import SHARED_URL, delete_prefix, shared_redis
from tests.servers import free_port

WRITE = "write-token-" + "w" * 20
READ = "read-token-" + "r" * 20
HASHED = "hashed-token-" + "h" * 20
AUTH = {"authorization": f"Bearer {WRITE}"}
RAUTH = {"authorization": f"Bearer {READ}"}
BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}
TOKENS = ({"name": "ops", "role": "write", "token": WRITE},
          {"name": "grafana", "role": "read", "token": READ},
          {"name": "ci", "role": "write", "sha256": hashlib.sha256(HASHED.encode()).hexdigest()})

# Every admin path (GET unless said), with a request that the admin port answers 200.
ADMIN_PATHS = [
    ("GET", "metrics"), ("GET", "ui/"), ("GET", "ui/app.js"), ("GET", "ui/style.css"),
    ("GET", "api/models"), ("GET", "api/segments"), ("GET", "api/live"), ("GET", "api/drift"),
    ("GET", "api/decisions"), ("GET", "api/actions"), ("GET", "api/profiles/someone/merges"),
]
# Paths that change things: on the shoppers' port they must be 404 before anything else.
ADMIN_WRITES = [
    ("POST", "api/models"), ("POST", "api/models/rollback"),
    ("POST", "api/models/2026-01-01.abcdef/activate"), ("DELETE", "api/profiles/someone"),
    ("DELETE", "api/models/shadow"), ("GET", "api/sessions/abcdefgh"), ("GET", "ui"),
]

Split = Callable[..., tuple[str, str]]


@pytest.fixture
def split(origin: str, make_split_proxy: Split) -> tuple[str, str]:
    return make_split_proxy(origin, admin_tokens=TOKENS, expose_headers=True)


def _renamed() -> bytes:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["display_name"] += " (candidate)"
    return seal(content)


def _model_header(public: str) -> str:
    """The model that classified a shopper's request. Under a loaded machine one request may
    fail open (no X-Intent-* headers, by design): ask again."""
    for _ in range(20):
        r = httpx.get(f"{public}/echo", headers=BROWSER)
        if "x-intent-model" in r.headers:
            return r.headers["x-intent-model"]
    raise AssertionError("no request was classified")


# -- listeners --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS + ADMIN_WRITES)
def test_admin_paths_are_404_on_the_public_port(split: tuple[str, str], method: str,
                                                path: str) -> None:
    public, _ = split
    r = httpx.request(method, f"{public}/_intentgate/{path}", headers=AUTH)
    assert r.status_code == 404, r.text


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
def test_admin_paths_work_on_the_admin_port(split: tuple[str, str], method: str,
                                            path: str) -> None:
    _, admin = split
    r = httpx.request(method, f"{admin}/_intentgate/{path}", headers=RAUTH)
    assert r.status_code == 200, r.text


def test_health_and_beacon_stay_public_and_shoppers_are_forwarded(
    split: tuple[str, str]
) -> None:
    public, admin = split
    assert httpx.get(f"{public}/_intentgate/health").json()["status"] == "ok"
    assert httpx.get(f"{admin}/_intentgate/health").json()["status"] == "ok"
    js = httpx.get(f"{public}/_intentgate/beacon.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    r = httpx.post(f"{public}/_intentgate/beacon", content=b"{}")
    assert r.status_code == 400  # reached the beacon: no session cookie
    assert httpx.get(f"{public}/echo", headers=BROWSER).status_code == 200
    assert _model_header(public)  # shoppers are classified on the public port
    # The admin port forwards nothing to the shop.
    r = httpx.get(f"{admin}/echo", headers=BROWSER)
    assert r.status_code == 404 and "x-intent-class" not in r.headers
    r = httpx.get(f"{admin}/")
    assert r.status_code == 308 and r.headers["location"] == "/_intentgate/ui/"


def test_admin_responses_carry_no_store_nosniff_and_frame_ancestors(
    split: tuple[str, str]
) -> None:
    _, admin = split
    for r in (httpx.get(f"{admin}/_intentgate/api/models", headers=RAUTH),
              httpx.get(f"{admin}/_intentgate/ui/"),
              httpx.get(f"{admin}/_intentgate/metrics", headers=RAUTH),
              httpx.get(f"{admin}/_intentgate/api/models"),  # 401
              httpx.get(f"{admin}/_intentgate/api/nothing", headers=RAUTH)):  # 404
        assert r.headers["cache-control"] == "no-store", r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], r.url
        assert r.headers.get_list("cache-control") == ["no-store"]


# -- allow-list -------------------------------------------------------------------------------


def test_allow_list_refuses_other_addresses_before_the_token(
    origin: str, make_split_proxy: Split
) -> None:
    _, admin = make_split_proxy(origin, admin_tokens=TOKENS, admin_allow=("10.0.0.0/8",))
    for headers in ({}, {"authorization": "Bearer wrong"}, AUTH):
        r = httpx.get(f"{admin}/_intentgate/api/models", headers=headers)
        assert r.status_code == 403 and "admin_allow" in r.json()["error"]
    assert httpx.get(f"{admin}/_intentgate/ui/").status_code == 403
    # Refusals by address are not token failures: nothing was throttled, all were counted.
    _, admin2 = make_split_proxy(origin, admin_tokens=TOKENS,
                                 admin_allow=("127.0.0.1", "10.0.0.0/8"))
    text = httpx.get(f"{admin2}/_intentgate/metrics", headers=RAUTH).text
    assert 'intentgate_admin_refusals{reason="address"}' not in text
    assert httpx.get(f"{admin2}/_intentgate/api/models", headers=AUTH).status_code == 200


def test_forged_forwarded_for_from_an_untrusted_hop_does_not_pass(
    origin: str, make_split_proxy: Split
) -> None:
    forged = {**AUTH, "x-forwarded-for": "10.1.2.3"}
    _, admin = make_split_proxy(origin, admin_tokens=TOKENS, admin_allow=("10.0.0.0/8",))
    assert httpx.get(f"{admin}/_intentgate/api/models", headers=forged).status_code == 403
    # From a trusted hop the forwarded address counts; a forged entry before an untrusted
    # hop in the chain does not.
    _, trusting = make_split_proxy(origin, admin_tokens=TOKENS, admin_allow=("10.0.0.0/8",),
                                   trusted_hops=("127.0.0.1",))
    assert httpx.get(f"{trusting}/_intentgate/api/models", headers=forged).status_code == 200
    chain = {**AUTH, "x-forwarded-for": "10.1.2.3, 192.0.2.7"}
    assert httpx.get(f"{trusting}/_intentgate/api/models", headers=chain).status_code == 403


# -- tokens -----------------------------------------------------------------------------------


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INTENTGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.commands.cli", "serve", "--upstream", "http://127.0.0.1:1",
         "--port", str(free_port()), "--admin-listen", "127.0.0.1:0", *args],
        capture_output=True, text=True, timeout=60, env={**base, **(env or {})})


@pytest.mark.parametrize("how", ["flag", "env", "named"])
def test_a_short_token_stops_startup_with_one_line_and_exit_2(how: str) -> None:
    if how == "flag":
        proc = _serve("--admin-token", "tok")
    elif how == "env":
        proc = _serve(env={"INTENTGATE_ADMIN_TOKEN": "x" * 23})
    else:
        proc = _serve(env={"INTENTGATE_ADMIN_TOKENS": "grafana:read:short"})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "at least 24 characters" in lines[0]
    assert "tok'" not in lines[0] and "short" not in lines[0]  # the secret is not echoed


def test_a_read_token_reads_but_cannot_activate_and_a_hashed_token_works(
    split: tuple[str, str]
) -> None:
    public, admin = split
    api = f"{admin}/_intentgate/api"
    r = httpx.post(f"{api}/models", headers={"authorization": f"Bearer {HASHED}"},
                   content=_renamed())
    assert r.status_code == 201
    candidate = r.json()["version"]
    assert httpx.get(f"{api}/models", headers=RAUTH).json()["active"] != candidate
    r = httpx.post(f"{api}/models/{candidate}/activate", headers=RAUTH)
    assert r.status_code == 403 and "role read" in r.json()["error"]
    assert httpx.get(f"{api}/models", headers=RAUTH).json()["active"] != candidate
    assert _model_header(public) != candidate
    r = httpx.post(f"{api}/models/{candidate}/activate",
                   headers={"authorization": f"Bearer {HASHED}"})
    assert r.status_code == 200
    assert _model_header(public) == candidate
    # The hash is the only form the process was given: the hex itself is not a token.
    hexed = {"authorization": f"Bearer {hashlib.sha256(HASHED.encode()).hexdigest()}"}
    assert httpx.get(f"{api}/models", headers=hexed).status_code == 401


# -- throttling -------------------------------------------------------------------------------


def test_fifty_wrong_tokens_get_429_while_the_right_token_elsewhere_gets_200(
    split: tuple[str, str]
) -> None:
    _, admin = split
    url = f"{admin}/_intentgate/api/models"
    statuses = []
    with httpx.Client() as attacker:
        for i in range(50):
            r = attacker.get(url, headers={"authorization": f"Bearer wrong-{i:02d}-" + "x" * 20})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
        # Throttled means the token is not even looked at: the right one waits too.
        assert attacker.get(url, headers=AUTH).status_code == 429
    assert statuses[0] == 401 and statuses[-1] == 429
    assert statuses.count(429) >= 35, statuses
    # Another address (127.0.0.2 is loopback too) with the right token is not slowed.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport) as admin_user:
        for _ in range(5):
            assert admin_user.get(url, headers=AUTH).status_code == 200
        text = admin_user.get(f"{admin}/_intentgate/metrics", headers=RAUTH).text
    throttled = re.search(r'intentgate_admin_refusals\{reason="throttled"\} (\S+)', text)
    assert throttled is not None and float(throttled.group(1)) >= 36
    failed = re.search(r'intentgate_admin_refusals\{reason="token"\} (\S+)', text)
    assert failed is not None and 10 <= float(failed.group(1)) <= 14  # burst, plus any leak


# -- audit ------------------------------------------------------------------------------------


def test_each_admin_action_leaves_one_record_with_the_tokens_name(
    split: tuple[str, str], tmp_path: Path
) -> None:
    public, admin = split
    api = f"{admin}/_intentgate/api"
    hashed = {"authorization": f"Bearer {HASHED}"}
    bundled = load_model(bundled_model_bytes()).version
    candidate = httpx.post(f"{api}/models", headers=AUTH, content=_renamed()).json()["version"]
    steps = [
        ("model.upload", None),
        ("model.activate", httpx.post(f"{api}/models/{candidate}/activate", headers=hashed)),
        ("model.shadow", httpx.post(f"{api}/models/{bundled}/shadow", headers=AUTH)),
        ("model.shadow_stop", httpx.delete(f"{api}/models/shadow", headers=AUTH)),
        ("model.rollback", httpx.post(f"{api}/models/rollback", headers=AUTH)),
        ("profile.erase", httpx.delete(f"{api}/profiles/alice@example.com", headers=hashed)),
        ("model.activate", httpx.post(f"{api}/models/{candidate}/activate", headers=RAUTH)),
    ]
    for _, r in steps[1:-1]:
        assert r is not None and r.status_code == 200, r.text
    # Reads are not actions: these leave no record.
    httpx.get(f"{api}/models", headers=RAUTH)
    httpx.get(f"{admin}/_intentgate/metrics", headers=RAUTH)
    listed = httpx.get(f"{api}/actions", headers=RAUTH)
    assert listed.status_code == 200
    actions = list(reversed(listed.json()["actions"]))  # oldest first
    assert [a["action"] for a in actions] == [name for name, _ in steps]
    assert [a["token"] for a in actions] == ["ops", "ci", "ops", "ops", "ops", "ci", "grafana"]
    assert [a["status"] for a in actions] == [201, 200, 200, 200, 200, 200, 403]
    assert actions[-1]["result"] == "refused" and actions[0]["result"] == "ok"
    assert all(a["address"] == "127.0.0.1" and a["ts"] > 0 for a in actions)
    assert actions[1]["detail"]["version"] == candidate
    erase = actions[5]
    assert len(erase["detail"]["subject"]) == 22
    # No user id in clear: not in the API's list, not on disk.
    assert "alice" not in listed.text
    files = list((tmp_path / "audit" / "admin").glob("audit.jsonl*"))
    assert files and all(b"alice" not in f.read_bytes() for f in files)
    assert sum(len(f.read_bytes().splitlines()) for f in files) == len(steps)


# -- workers ----------------------------------------------------------------------------------


def test_serve_with_two_workers_serves_admin_only_on_the_admin_port(
    origin: str, tmp_path: Path
) -> None:
    port, admin_port = free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("INTENTGATE_")}
    env = {**base, "INTENTGATE_SECRET": "w" * 32, "INTENTGATE_DATA_DIR": str(tmp_path),
           "INTENTGATE_ADMIN_TOKEN": WRITE}
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxy.commands.cli", "serve", "--upstream", origin, "--port",
             str(port), "--admin-listen", f"127.0.0.1:{admin_port}", "--workers", "2"],
            env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    public, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(f"{admin}/_intentgate/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        text = log.read_text()
        assert f"admin surface on {admin}/_intentgate/ui/" in text
        # New connections each time, so both workers answer over the test.
        for _ in range(10):
            assert httpx.get(f"{public}/_intentgate/metrics", headers=AUTH).status_code == 404
            assert httpx.get(f"{admin}/_intentgate/metrics", headers=AUTH).status_code == 200
        assert httpx.get(f"{public}/echo", headers=BROWSER).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.redis
def test_with_the_redis_store_admin_actions_go_to_their_own_stream(
    origin: str, make_split_proxy: Split
) -> None:
    client = shared_redis()
    prefix = f"igtest{uuid.uuid4().hex[:10]}"
    try:
        _, admin = make_split_proxy(origin, admin_tokens=TOKENS, store="redis",
                                    redis_url=SHARED_URL, redis_prefix=prefix)
        r = httpx.delete(f"{admin}/_intentgate/api/profiles/bob@example.com", headers=AUTH)
        assert r.status_code == 200
        entries = client.xrange(f"{prefix}:audit:admin")
        assert len(entries) == 1
        rec = orjson.loads(entries[0][1][b"r"])
        assert rec["action"] == "profile.erase" and rec["token"] == "ops"
        assert b"bob" not in entries[0][1][b"r"]
        listed = httpx.get(f"{admin}/_intentgate/api/actions", headers=RAUTH).json()
        assert [a["action"] for a in listed["actions"]] == ["profile.erase"]
    finally:
        delete_prefix(client, prefix)
        client.close()
