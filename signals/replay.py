"""Replaying recorded sessions through the same state and feature extraction the proxy uses,
so offline (fit, evaluate) and online features can never disagree.

Pure: records in, a matrix out. Sessions are grouped in memory by key (one small list of events
per session); the rows come out in a deterministic order (sorted session keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from signals.events import EventKind, ShopperEvent
from signals.features import FeatureExtractor
from signals.state import DEFAULT_CONFIG, SessionState, StateConfig

_OUTCOMES = frozenset({EventKind.PURCHASE, EventKind.CHECKOUT_STEP})


@dataclass
class Replay:
    """The fitting/evaluation matrix: ``X`` (n, d) transformed features, ``purchased`` (n,)
    labels, ``n_events`` (n,) events behind each row, ``keys`` the session keys."""

    X: npt.NDArray[np.float64]
    purchased: npt.NDArray[np.bool_]
    n_events: npt.NDArray[np.int64]
    keys: list[str]
    skipped_empty: int


def _path(
    events: Sequence[ShopperEvent], before_outcome: bool,
) -> tuple[list[ShopperEvent], bool]:
    """A session's events in time order without its purchases (cut at its first purchase or
    checkout step with ``before_outcome``), and whether it had a purchase."""
    ordered = sorted(events, key=lambda e: e.ts)
    purchased = any(e.kind == EventKind.PURCHASE for e in ordered)
    if before_outcome:
        cut = next((i for i, e in enumerate(ordered) if e.kind in _OUTCOMES), len(ordered))
        ordered = ordered[:cut]
    return [e for e in ordered if e.kind != EventKind.PURCHASE], purchased

def group(records: Iterable[tuple[str, ShopperEvent]]) -> dict[str, list[ShopperEvent]]:
    out: dict[str, list[ShopperEvent]] = {}
    for key, ev in records:
        out.setdefault(key, []).append(ev)
    return out


def replay(
    sessions: dict[str, list[ShopperEvent]],
    extractor: FeatureExtractor,
    config: StateConfig = DEFAULT_CONFIG,
    *,
    before_outcome: bool = False,
    min_events: int = 1,
    max_events: int | None = None,
) -> Replay:
    """One row per session. With ``before_outcome`` the row is built from the events before
    the session's first purchase or checkout step, so the label never leaks into the features
    (a session that starts with its purchase has no row and is counted as skipped).
    ``max_events`` keeps only a session's first events: with ``min_events`` equal to it, the
    row is the state the proxy had after exactly that many requests."""
    d = len(extractor.names)
    rows: list[npt.NDArray[np.float64]] = []
    labels: list[bool] = []
    counts: list[int] = []
    keys: list[str] = []
    skipped = 0
    for key in sorted(sessions):
        events, purchased = _path(sessions[key], before_outcome)
        if max_events is not None:
            events = events[:max_events]
        if len(events) < min_events or not events:
            skipped += 1
            continue
        state = SessionState(config)
        for ev in events:
            state.apply(ev)
        row = np.zeros(d, dtype=np.float64)
        extractor.extract(state, events[-1].ts, row)
        rows.append(row)
        labels.append(purchased)
        counts.append(len(events))
        keys.append(key)
    X = np.vstack(rows) if rows else np.zeros((0, d), dtype=np.float64)
    return Replay(X, np.array(labels, dtype=bool), np.array(counts, dtype=np.int64), keys,
                  skipped)


@dataclass
class StateRows:
    """The session state after every event, as the proxy classifies at every request:
    ``X`` (n_rows, d), ``weight`` (n_rows,) = 1 / rows of its session (each session weighs one),
    ``purchased`` (n_rows,) the session's label, ``session`` (n_rows,) its index in ``keys``."""

    X: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float64]
    purchased: npt.NDArray[np.bool_]
    session: npt.NDArray[np.int64]
    keys: list[str]


def replay_states(
    sessions: dict[str, list[ShopperEvent]],
    extractor: FeatureExtractor,
    config: StateConfig = DEFAULT_CONFIG,
    *,
    before_outcome: bool = True,
) -> StateRows:
    """One row per event of every session (the events before its first purchase or checkout
    step with ``before_outcome``, so what predicts the purchase is the path to it)."""
    d = len(extractor.names)
    rows: list[npt.NDArray[np.float64]] = []
    weights: list[float] = []
    labels: list[bool] = []
    index: list[int] = []
    keys: list[str] = []
    for key in sorted(sessions):
        events, purchased = _path(sessions[key], before_outcome)
        if not events:
            continue
        state = SessionState(config)
        block = np.zeros((len(events), d), dtype=np.float64)
        for i, ev in enumerate(events):
            state.apply(ev)
            extractor.extract(state, ev.ts, block[i])
        rows.append(block)
        weights.extend([1.0 / len(events)] * len(events))
        labels.extend([purchased] * len(events))
        index.extend([len(keys)] * len(events))
        keys.append(key)
    X = np.vstack(rows) if rows else np.zeros((0, d), dtype=np.float64)
    return StateRows(X, np.array(weights, dtype=np.float64), np.array(labels, dtype=bool),
                     np.array(index, dtype=np.int64), keys)
