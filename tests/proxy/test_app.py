"""Tests for proxy/app.py: what ``build_runtime`` and ``create_app`` decide from settings, checked
on the objects they build (nothing served). Serving is in tests/e2e."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from proxy.admin.listener import AdminPortApp
from proxy.app import ProxyApp, build_runtime, create_app, load_secret
from proxy.config import ConfigError, load_settings
from proxy.forward import ForwardApp
from proxy.middleware import IntentGateMiddleware
from proxy.recorder import EventRecorder
from signals.errors import RuleError
from signals.store import MemoryStore


def _settings(tmp_path: Path, **overrides: Any) -> Any:
    return load_settings(environ={}, overrides={
        "secret": "a" * 32, "data_dir": str(tmp_path / "data"), **overrides})


def test_build_runtime_turns_settings_into_engine_options(tmp_path: Path) -> None:
    rt = build_runtime(_settings(tmp_path, header_prefix="X-Shop-", identify_header="X-Who",
                                 budget_ms=1.5, min_events=4, session_cookie="sid",
                                 class_switch_margin=0.1, trusted_hops=["10.0.0.1"]))
    opts = rt.engine.options
    assert opts.header_prefix == b"x-shop-" and opts.identify_header == b"x-who"
    assert opts.budget_ns == 1_500_000 and opts.min_events == 4
    assert opts.session_cookie == b"sid" and opts.class_switch_margin == 0.1
    assert opts.trusted_hops == frozenset({"10.0.0.1"})
    assert rt.engine.h_class == b"x-shop-class"
    assert rt.engine.active is None  # the model is loaded by startup, not by building


def test_build_runtime_default_store_is_memory_and_recording_is_off(tmp_path: Path) -> None:
    rt = build_runtime(_settings(tmp_path))
    assert isinstance(rt.engine.store, MemoryStore) and rt.engine.recorder is None
    assert rt.registry.directory == tmp_path / "data" / "models"
    assert rt.engine.unmatched is not None
    assert b"intentgate_store_entries" in rt.engine.metrics.render()


def test_build_runtime_records_events_where_told(tmp_path: Path) -> None:
    rt = build_runtime(_settings(tmp_path, record_events=True, record_dir=str(tmp_path / "ev"),
                                 record_keep=4, record_max_bytes=4096))
    rec = rt.engine.recorder
    assert isinstance(rec, EventRecorder)
    assert rec.path == tmp_path / "ev" / "events.jsonl"
    assert (rec._file.keep, rec._file.max_bytes) == (4, 4096)  # the rotation it was handed


def test_build_runtime_accepts_a_dict_and_refuses_bad_settings_before_writing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with pytest.raises(RuleError):
        build_runtime({"data_dir": str(data), "rules": [{"kind": "no-such-kind", "path": "/x"}]})
    with pytest.raises(ConfigError):
        build_runtime({"data_dir": str(data), "budget_ms": -1})
    assert not data.exists()  # nothing was written for settings that were refused
    rt = build_runtime({"data_dir": str(data), "secret": "b" * 32, "min_events": 0})
    assert rt.engine.options.min_events == 0


def test_load_secret_is_generated_once_then_reused(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    first = load_secret(settings)
    assert len(first) == 32 and (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    assert load_secret(settings) == first
    given = load_settings(environ={}, overrides={"data_dir": str(tmp_path), "secret": "c" * 32})
    assert load_secret(given) == b"c" * 32


def test_create_app_needs_an_upstream(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="upstream is required"):
        create_app(_settings(tmp_path))


def test_create_app_hands_forwarding_settings_to_the_forwarder(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, upstream="http://origin:8080", preserve_host=False,
                               trusted_hops=["10.0.0.1"], max_body_bytes=1000, pool_size=7,
                               connect_timeout=1.0, read_timeout=0.3, pool_timeout=2.0,
                               header_prefix="X-Shop-"))
    forward = app.runtime.forward
    assert isinstance(forward, ForwardApp)
    assert forward.upstream == "http://origin:8080" and forward.preserve_host is False
    assert forward.trusted_hops == frozenset({"10.0.0.1"})
    assert forward.max_body_bytes == 1000 and forward.pool_size == 7
    assert (forward.timeouts.connect, forward.timeouts.read, forward.timeouts.pool) == (
        1.0, 0.3, 2.0)
    assert forward.strip_prefix == b"x-shop-"
    assert forward.metrics is app.runtime.engine.metrics


def test_create_app_classifies_in_the_forwarder_behind_the_admin_listener(
    tmp_path: Path,
) -> None:
    app = create_app(_settings(tmp_path, upstream="http://origin"))
    assert isinstance(app, ProxyApp)
    assert app.runtime.forward.engine is app.runtime.engine  # attached: one header walk
    assert isinstance(app.inner, AdminPortApp)  # admin on its own listener by default
    assert isinstance(app.inner.app, IntentGateMiddleware)
    assert app.inner.app.engine is app.runtime.engine
    assert app.ws_tunnel is not None


def test_create_app_public_admin_serves_it_on_the_shoppers_port(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, upstream="http://origin", admin_listen="public"))
    assert isinstance(app.inner, IntentGateMiddleware)


def test_create_app_passthrough_forwards_without_an_engine(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, upstream="http://origin", passthrough=True))
    assert app.inner is app.runtime.forward and app.runtime.forward.engine is None


def _lifespan(app: ProxyApp) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    return sent


def test_lifespan_loads_the_model_before_traffic_and_closes_after(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, upstream="http://origin"))
    sent = _lifespan(app)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                        "lifespan.shutdown.complete"]
    assert app.runtime.started and app.runtime.engine.active is not None


def test_lifespan_reports_a_failed_startup(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, upstream="http://origin",
                               model=str(tmp_path / "missing.json")))
    sent = _lifespan(app)
    assert len(sent) == 1 and sent[0]["type"] == "lifespan.startup.failed"
    assert "missing.json" in sent[0]["message"]
