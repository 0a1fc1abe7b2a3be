"""Fail-open paths and model hot swap, against a real proxy and a real origin on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.app import ProxyApp, create_app
from proxy.config import load_settings
from proxy.models import bundled_model_bytes
from proxy.server import ServerLimits, uvicorn_kwargs
from signals.errors import StoreUnavailable
from tests.e2e.origin import origin_app
from tests.servers import serve_in_thread

BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with serve_in_thread(origin_app) as url:
        yield url


@pytest.fixture
def served(origin: str, tmp_path: Path) -> Iterator[tuple[str, ProxyApp]]:
    settings = load_settings(environ={}, overrides={
        "upstream": origin, "secret": "s" * 32, "data_dir": str(tmp_path), "min_events": 0,
        "expose_headers": True, "admin_token": "t" * 24, "bot_max_rate": 1e9,
        "admin_listen": "public"})
    app = create_app(settings)
    kwargs = uvicorn_kwargs(ServerLimits())
    kwargs.pop("loop")
    with serve_in_thread(app, **kwargs) as url:
        yield url, app


def _get(url: str, path: str = "/products/a") -> httpx.Response:
    return httpx.get(url + path, headers=BROWSER)


def test_failopen_broken_model_forwards_unclassified(served: tuple[str, ProxyApp]) -> None:
    url, app = served
    assert _get(url).headers.get("x-intent-class")

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("model exploded")

    app.runtime.engine.active.scorer = Broken()  # type: ignore[union-attr]
    r = _get(url)
    assert r.status_code == 200 and r.json()["method"] == "GET"
    assert "x-intent-class" not in r.headers
    assert not [k for k, _ in r.json()["headers"] if k.startswith("x-intent-")]
    assert app.runtime.engine.metrics.fail_open["error"] == 1


def test_failopen_raising_store(served: tuple[str, ProxyApp]) -> None:
    url, app = served
    engine = app.runtime.engine

    class DownStore:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise StoreUnavailable("redis is down")
            return fail

    engine.store = DownStore()  # type: ignore[assignment]
    r = _get(url)
    assert r.status_code == 200 and "x-intent-class" not in r.headers
    assert engine.metrics.fail_open["error"] == 1


def test_failopen_slow_store_over_budget(served: tuple[str, ProxyApp]) -> None:
    url, app = served
    engine = app.runtime.engine
    real = engine.store

    class SlowStore:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def get(self, key: str, now: float) -> Any:
            time.sleep(0.01)  # 10 ms > the 2 ms budget
            return real.get(key, now)

    engine.store = SlowStore()  # type: ignore[assignment]
    r = _get(url)
    assert r.status_code == 200 and "x-intent-class" not in r.headers
    assert engine.metrics.fail_open["budget"] == 1
    assert engine.metrics.classify_latency.count == 0  # skipped, not timed as a classification


def test_failopen_metrics_show_reasons(served: tuple[str, ProxyApp]) -> None:
    url, app = served
    app.runtime.engine.fail_open("error", "test")
    text = httpx.get(f"{url}/_intentgate/metrics", headers={"authorization": "Bearer " + "t" * 24})
    assert 'intentgate_fail_open_total{reason="error"} 1' in text.text


def _renamed_model(suffix: str) -> bytes:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["slug"] = card["slug"][: 60 - len(suffix)] + suffix
    return seal(content)


def test_hot_swap_under_concurrent_requests_never_mixes_versions(
    served: tuple[str, ProxyApp],
) -> None:
    url, app = served
    registry = app.runtime.registry
    first = registry.active
    assert first is not None
    second = registry.add(_renamed_model("-v2"))
    slugs = {first.version: set(first.slugs), second.version: set(second.slugs)}
    seen: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def shopper() -> None:
        with httpx.Client(base_url=url, headers=BROWSER) as c:
            while not stop.is_set():
                try:
                    r = c.get("/products/phone-pro")
                    # A swap runs in this test's thread and can hold the GIL past the 2 ms
                    # budget: such a request fails open (no headers), which is counted.
                    seen.append((r.headers.get("x-intent-model", ""),
                                 r.headers.get("x-intent-class", "")))
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

    threads = [threading.Thread(target=shopper) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        registry.activate(second.version if i % 2 == 0 else first.version)
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    unclassified = sum(1 for v, _ in seen if not v)
    assert unclassified == app.runtime.engine.metrics.fail_open["budget"]
    assert unclassified < len(seen) / 2
    versions = {v for v, _ in seen if v}
    assert versions == {first.version, second.version}
    for version, cls in seen:
        if not version:
            continue
        assert cls == "undetermined" or cls in slugs[version], (version, cls)


def test_rollback_reactivates_the_previous_version(served: tuple[str, ProxyApp]) -> None:
    url, app = served
    registry = app.runtime.registry
    first = registry.active
    assert first is not None
    second = registry.add(_renamed_model("-b"))
    registry.activate(second.version)
    assert _get(url).headers["x-intent-model"] == second.version
    assert registry.rollback().version == first.version
    assert _get(url).headers["x-intent-model"] == first.version
    listed = {m["version"]: m["active"] for m in registry.versions()}
    assert listed[first.version] is True and listed[second.version] is False


def test_reload_of_a_corrupted_model_file_keeps_the_old_model(
    origin: str, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.json"
    model_file.write_bytes(bundled_model_bytes())
    settings = load_settings(environ={}, overrides={
        "upstream": origin, "secret": "s" * 32, "data_dir": str(tmp_path / "d"),
        "model": str(model_file), "min_events": 0})
    app = create_app(settings)
    kwargs = uvicorn_kwargs(ServerLimits())
    kwargs.pop("loop")
    with serve_in_thread(app, **kwargs) as url:
        version = load_model(bundled_model_bytes()).version
        model_file.write_bytes(b'{"format": 1, "version": "trunc')
        assert app.runtime.registry.reload() is None  # refused
        r = _get(url)
        assert r.status_code == 200 and r.headers.get("x-intent-model") is None  # not exposed
        assert app.runtime.engine.active.version == version  # type: ignore[union-attr]
        model_file.write_bytes(_renamed_model("-new"))
        assert app.runtime.registry.reload() is not None
        assert app.runtime.engine.active.version != version  # type: ignore[union-attr]
