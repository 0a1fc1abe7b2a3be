"""Builders for events and sessions (as mitmproxy's test/tflow.py)."""

from __future__ import annotations

from signals.events import EventKind, ShopperEvent
from signals.state import SessionState, StateConfig


def event(kind: EventKind | str, ts: float, product: str | None = None,
          category: str | None = None, query: str | None = None,
          value: float = 0.0) -> ShopperEvent:
    k = EventKind.from_slug(kind) if isinstance(kind, str) else kind
    return ShopperEvent(k, ts, product, category, query, value)


def make_session(*events: ShopperEvent, half_life: float = 600.0,
                 dwell_cap: float = 300.0) -> SessionState:
    state = SessionState(StateConfig(half_life=half_life, dwell_cap=dwell_cap))
    for ev in events:
        state.apply(ev)
    return state
