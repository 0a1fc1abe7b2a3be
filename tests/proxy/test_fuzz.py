"""Hostile input on the pure parts and the engine: whatever arrives, no exception escapes
(beyond the documented ValueError of a parser) and every number stays finite."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.app import build_runtime
from signals.beacon import parse_beacon
from signals.events import EventKind, ShopperEvent
from signals.features import DEFAULT_FEATURES, FeatureExtractor
from signals.state import SessionState

FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
raw = st.binary(max_size=300)


@FAST
@given(raw)
def test_fuzz_beacon_bodies_only_ever_raise_value_error(body: bytes) -> None:
    try:
        ev = parse_beacon(body, 1_700_000_000.0)
    except ValueError:
        return
    assert isinstance(ev, ShopperEvent)


@FAST
@given(st.lists(st.tuples(st.sampled_from(list(EventKind)),
                          st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                          st.one_of(st.none(), text),
                          st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)),
                max_size=40))
def test_fuzz_any_event_sequence_gives_finite_features(events: list) -> None:
    state = SessionState()
    t0 = 1_700_000_000.0
    for kind, dt, product, value in events:
        state.apply(ShopperEvent(kind, t0 + dt, product, product, product, value))
    ex = FeatureExtractor(*zip(*DEFAULT_FEATURES, strict=True))
    out = np.zeros(16)
    ex.extract(state, t0 + 2e6, out)
    assert all(math.isfinite(v) for v in out)


_runtime = None


def _engine(tmp: Path):  # type: ignore[no-untyped-def]
    global _runtime
    if _runtime is None:
        _runtime = build_runtime({"secret": "f" * 32, "data_dir": str(tmp), "min_events": 0,
                                  "bot_max_rate": 1e12})
        _runtime.registry.startup()
    return _runtime.engine


@FAST
@given(method=st.sampled_from(["GET", "POST", "HEAD", "DELETE", "PATCH"]),
       path=st.text(max_size=120).map(lambda p: "/" + p), query=raw,
       cookies=st.lists(raw, max_size=3), agent=st.one_of(st.none(), raw),
       status=st.integers(100, 599), identify=st.one_of(st.none(), raw))
def test_fuzz_engine_never_raises_and_headers_are_safe(tmp_path_factory, method: str, path: str,
                                                       query: bytes, cookies: list, agent,
                                                       status: int, identify) -> None:
    engine = _engine(tmp_path_factory.mktemp("fuzz"))
    decision = engine._classify(method, path, query, cookies, agent, True, True, False)
    if decision is None:
        return
    for _name, value in decision.headers + decision.set_cookies:
        assert b"\r" not in value and b"\n" not in value and b"\x00" not in value
        value.decode("ascii")  # header values we emit are plain ASCII
    engine.on_response(decision, status, identify)
    for _name, value in decision.set_cookies:  # identify may have added the profile cookie
        assert b"\r" not in value and b"\n" not in value and b"\x00" not in value
        value.decode("ascii")
