"""Outcome counters per (model version, class, group): sessions, and sessions that added to the
cart, reached a checkout step and purchased, plus orders and revenue.

Pure bookkeeping (no clock, no I/O). A session is counted once, in the class it held *before its
first outcome*: until then its attribution follows its class (moving its one ``sessions`` count
between classes, so the live counters always hold each session once); the request that carries
the first cart add, checkout step or purchase freezes it, so a class is never credited with what
happened before it was assigned, nor with the class the outcome itself produced. Each outcome
counts once per session.

Counters live in ``counts`` (this process). With a shared store, every increment is also added
to ``pending``, a map with at most (models × classes × 2 groups × 6 metrics) fields, which the
store's write-behind flusher takes and sends as ``HINCRBY``/``HINCRBYFLOAT`` (see
``signals.redis_outcomes``); a failed push is put back, so nothing counted is lost while Redis is
away, and the map cannot grow with traffic.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from signals.cohorts import GROUPS
from signals.events import EventKind

# One bit per outcome kind; a session's ``flags`` says which it reached.
OUTCOME_BITS = {EventKind.CART_ADD: 1, EventKind.CHECKOUT_STEP: 2, EventKind.PURCHASE: 4}
_METRIC_OF_BIT = {1: "cart", 2: "checkout", 4: "purchase"}
METRICS = ("sessions", "cart", "checkout", "purchase", "orders", "revenue")
SEP = "|"


def field_name(model: str, cls: str, holdout: bool, metric: str) -> str:
    return f"{model}{SEP}{cls}{SEP}{GROUPS[holdout]}{SEP}{metric}"


class SessionOutcome:
    """What the book remembers of one session: its group, attribution and outcomes so far."""

    __slots__ = ("holdout", "model", "cls", "flags", "frozen")

    def __init__(self, holdout: bool, model: str, cls: str) -> None:
        self.holdout = holdout
        self.model = model
        self.cls = cls
        self.flags = 0
        self.frozen = False


class OutcomeBook:
    """Sessions (bounded LRU of ``capacity``) and their counters; see the module docstring."""

    def __init__(self, *, capacity: int = 200_000, shared: bool = False,
                 on_pending: Callable[[], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.shared = shared
        self.on_pending = on_pending
        self.counts: dict[str, float] = {}
        self.pending: dict[str, float] = {}
        self.evicted = 0
        self._sessions: OrderedDict[str, SessionOutcome] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def session(self, sid: str) -> SessionOutcome | None:
        entry = self._sessions.get(sid)
        if entry is not None:
            self._sessions.move_to_end(sid)
        return entry

    def open(self, sid: str, holdout: bool, model: str, cls: str) -> SessionOutcome:
        """A session seen for the first time: counted once, in ``cls``."""
        entry = SessionOutcome(holdout, model, cls)
        sessions = self._sessions
        sessions[sid] = entry
        if len(sessions) > self.capacity:
            sessions.popitem(last=False)
            self.evicted += 1
        self._add(field_name(model, cls, holdout, "sessions"), 1)
        return entry

    def classified(self, entry: SessionOutcome, model: str, cls: str) -> None:
        """The session's class now; moves its attribution unless an outcome froze it."""
        if entry.frozen or (cls == entry.cls and model == entry.model):
            return
        self._add(field_name(entry.model, entry.cls, entry.holdout, "sessions"), -1)
        self._add(field_name(model, cls, entry.holdout, "sessions"), 1)
        entry.model = model
        entry.cls = cls

    def outcome(self, entry: SessionOutcome, kind: EventKind, order_value: float = 0.0) -> None:
        """An outcome the origin confirmed (a response below 400)."""
        entry.frozen = True
        bit = OUTCOME_BITS.get(kind, 0)
        if bit and not entry.flags & bit:
            entry.flags |= bit
            self._add(field_name(entry.model, entry.cls, entry.holdout, _METRIC_OF_BIT[bit]), 1)
        if kind == EventKind.PURCHASE:
            self._add(field_name(entry.model, entry.cls, entry.holdout, "orders"), 1)
            if order_value > 0.0:
                self._add(field_name(entry.model, entry.cls, entry.holdout, "revenue"),
                          order_value)

    def _add(self, name: str, amount: float) -> None:
        counts = self.counts
        counts[name] = counts.get(name, 0) + amount
        if self.shared:
            pending = self.pending
            was_empty = not pending
            pending[name] = pending.get(name, 0) + amount
            if was_empty and self.on_pending is not None:
                self.on_pending()

    # -- the shared store's side -----------------------------------------------------------

    def take_pending(self) -> dict[str, float]:
        """Everything not yet pushed; the caller pushes it or hands it back with ``restore``."""
        taken, self.pending = self.pending, {}
        return taken

    def restore(self, taken: dict[str, float]) -> None:
        """Put back a push that failed (what was added meanwhile stays; amounts add up)."""
        pending = self.pending
        for name, amount in taken.items():
            pending[name] = pending.get(name, 0) + amount


def rows(counts: Iterable[tuple[str, float]]) -> list[dict[str, Any]]:
    """Counter fields -> one row per (model, class, group) with every metric (0 when absent)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for name, value in counts:
        parts = name.split(SEP)
        if len(parts) != 4 or parts[3] not in METRICS:
            continue
        model, cls, group, metric = parts
        row = out.get((model, cls, group))
        if row is None:
            row = out[(model, cls, group)] = {"model": model, "class": cls, "group": group,
                                              **dict.fromkeys(METRICS, 0)}
        row[metric] += value
    return list(out.values())
