"""Why a session got its class: every signal's contribution, share and raw value in words, the
distance to each centroid, and a bounded per-session journal of events and class changes.

``explain`` re-scores with its own ``Scorer`` (the request path's buffers are never touched).
The journal lives in memory beside the session store; it holds pseudonymous profile tokens and
product handles, is bounded in sessions and in entries per session, and can be erased.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from classifiers.artifact import Model
from classifiers.kernels import Scorer
from signals.events import EventKind, ShopperEvent
from signals.features import FeatureExtractor, raw_value
from signals.state import SessionState

UNDETERMINED = "undetermined"

# Counter features: (singular, plural) nouns for "4 comparisons in 6 minutes".
_NOUNS: dict[str, tuple[str, str]] = {
    "product_views": ("product view", "product views"),
    "category_views": ("category view", "category views"),
    "searches": ("search", "searches"),
    "comparisons": ("comparison", "comparisons"),
    "cart_adds": ("add to cart", "adds to cart"),
    "cart_removes": ("removal from cart", "removals from cart"),
    "checkout_steps": ("checkout step", "checkout steps"),
    "price_sorts": ("price sort or filter", "price sorts or filters"),
    "deal_views": ("deal page view", "deal page views"),
    "review_views": ("review page view", "review page views"),
    "wishlist_adds": ("wishlist add", "wishlist adds"),
}


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"about {value:.1f}"


def _minutes(minutes: float) -> str:
    if minutes < 1.0:
        return "under a minute"
    m = round(minutes)
    return "1 minute" if m == 1 else f"{m} minutes"


def in_words(name: str, value: float, session_minutes: float) -> str:
    """A raw value in plain words: ``in_words("comparisons", 4, 6.2)`` ->
    ``"4 comparisons in 6 minutes"``. Counters are time-weighted (recent actions count more),
    so they may be fractional: ``"about 3.6 comparisons …"``."""
    if name in _NOUNS:
        one, many = _NOUNS[name]
        n = _number(value)
        return f"{n} {one if n == '1' else many} in {_minutes(session_minutes)}"
    if name == "dwell_per_product_s":
        seconds = round(value)
        return f"{seconds} second{'' if seconds == 1 else 's'} per product page on average"
    if name == "distinct_products":
        return f"{value:.0f} different product{'' if round(value) == 1 else 's'} seen"
    if name == "distinct_categories":
        return f"{value:.0f} different categor{'y' if round(value) == 1 else 'ies'} seen"
    if name == "session_minutes":
        return f"{_minutes(value)} since the first page"
    if name == "revisit_rate":
        return f"{value * 100:.0f} % of product views were revisits"
    return f"{value:.2f} {name.replace('_', ' ')}"


def explain(
    model: Model, state: SessionState, now: float, *, min_events: int = 3,
    scorer: Scorer | None = None,
) -> dict[str, Any]:
    """The full explanation of ``state`` under ``model`` at ``now`` (JSON-ready).

    ``signals`` is sorted by contribution, highest first; contributions add up to ``margin``
    (``d²_runner − d²_winner``, scaled space) and ``share`` is ``contribution / margin``.
    ``distances`` are Euclidean distances in scaled space; ``radius`` is the winner's.
    """
    scorer = scorer if scorer is not None else Scorer(model)
    x = FeatureExtractor(model.feature_names, model.transforms).vector(state, now)
    winner, runner, confidence = scorer.score(x)
    d2 = scorer.d2.copy()
    contrib = scorer.contrib.copy()
    margin = float(d2[runner] - d2[winner])
    minutes = raw_value(state, "session_minutes", now)
    reason = None
    if state.events_seen < min_events:
        reason = f"fewer than {min_events} events so far"
    elif d2[winner] > model.radius2[winner]:
        reason = "farther from every segment's centre than that segment's radius"
    signals: list[dict[str, Any]] = []
    for f, name in enumerate(model.feature_names):
        value = raw_value(state, name, now)
        c = float(contrib[f])
        signals.append({
            "signal": name, "raw_value": round(value, 4),
            "in_words": in_words(name, value, minutes), "transformed": round(float(x[f]), 6),
            "contribution": round(c, 6),
            "share": round(c / margin, 4) if margin > 0 else None,
        })
    signals.sort(key=lambda s: -float(s["contribution"]))
    return {
        "model": model.version,
        "class": UNDETERMINED if reason else model.slugs[winner],
        "undetermined_reason": reason,
        "nearest": model.slugs[winner],
        "runner_up": model.slugs[runner],
        "confidence": round(float(confidence), 4) if reason is None else 0.0,
        "margin": round(margin, 6),
        "signals": signals,
        "distances": {slug: round(math.sqrt(v), 4)
                      for slug, v in zip(model.slugs, d2.tolist(), strict=True)},
        "radius": round(math.sqrt(float(model.radius2[winner])), 4),
    }


def confidence_from(d2: npt.NDArray[np.float64], winner: int, temperature: float) -> float:
    """The kernel's confidence recomputed from its ``d2`` buffer: softmax of ``-d2/T`` at c."""
    return float(1.0 / np.exp(-(d2 - d2[winner]) / temperature).sum())


def top_shares(
    contrib: npt.NDArray[np.float64], margin: float, names: tuple[str, ...], n: int = 3
) -> tuple[tuple[str, float], ...]:
    """The ``n`` largest positive contributions as ``(name, share of margin)``."""
    if not margin > 0.0:
        return ()
    order = np.argsort(-contrib, kind="stable")[:n]
    return tuple((names[i], round(float(contrib[i]) / margin, 4))
                 for i in order.tolist() if contrib[i] > 0.0)


# -- the per-session journal -------------------------------------------------------------------


class Change(NamedTuple):
    """A class change of one session: what it became, from what, and the signals behind it."""

    ts: float
    cls: str
    previous: str | None
    confidence: float
    model: str
    signals: tuple[tuple[str, float], ...]
    words: tuple[str, ...]


class Step(NamedTuple):
    """One event of the timeline (text fields already truncated)."""

    ts: float
    kind: str
    product: str | None
    category: str | None
    query: str | None
    value: float
    undone: bool = False  # the page answered 4xx/5xx, so the event was taken back out


@dataclass(slots=True)
class Journal:
    """One session's bounded timeline: recent events and class changes."""

    pseudonym: str
    profile: str
    events: deque[Step]
    changes: deque[Change]
    last_class: str | None = None
    decisions: int = 0
    profiles: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.pseudonym, "profile": self.profile, "decisions": self.decisions,
            "class": self.last_class,
            "timeline": [s._asdict() for s in self.events],
            "changes": [change_dict(c) for c in self.changes],
        }


def change_dict(c: Change) -> dict[str, Any]:
    """A class change as the API shows it."""
    return {"ts": c.ts, "class": c.cls, "previous": c.previous,
            "confidence": round(c.confidence, 4), "model": c.model,
            "signals": [{"signal": n, "share": s, "in_words": w}
                        for (n, s), w in zip(c.signals, c.words, strict=True)]}


def step_of(event: ShopperEvent) -> Step:
    """One event as the timeline keeps it (text fields truncated)."""
    return Step(event.ts, EventKind(event.kind).slug, _cut(event.product),
                _cut(event.category), _cut(event.query), event.value)


_TEXT = 80


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= _TEXT else text[:_TEXT]


class SessionJournal:
    """Journals of the most recently active sessions (LRU), keyed by raw session token, with a
    pseudonym index so the audit log's pseudonymous tokens can be looked up too."""

    def __init__(
        self, capacity: int = 10_000, events_per_session: int = 50,
        changes_per_session: int = 20,
    ) -> None:
        if capacity < 1 or events_per_session < 1 or changes_per_session < 1:
            raise ValueError("journal bounds must be at least 1")
        self.capacity = capacity
        self.events_per_session = events_per_session
        self.changes_per_session = changes_per_session
        self._by_session: OrderedDict[str, Journal] = OrderedDict()
        self._by_pseudonym: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_session)

    def entry(self, session: str, pseudonym: str, profile: str) -> Journal:
        """The session's journal (created, and the least recent one evicted, when new)."""
        j = self._by_session.get(session)
        if j is None:
            j = Journal(pseudonym, profile, deque(maxlen=self.events_per_session),
                        deque(maxlen=self.changes_per_session))
            self._by_session[session] = j
            self._by_pseudonym[pseudonym] = session
            while len(self._by_session) > self.capacity:
                _, old = self._by_session.popitem(last=False)
                self._by_pseudonym.pop(old.pseudonym, None)
        else:
            self._by_session.move_to_end(session)
        if j.profile != profile:
            j.profiles.add(j.profile)
            j.profile = profile
        return j

    def contains(self, session: str) -> bool:
        return session in self._by_session

    @staticmethod
    def add_event(j: Journal, event: ShopperEvent) -> None:
        j.events.append(step_of(event))

    def get(self, session: str) -> Journal | None:
        return self._by_session.get(session)

    def mark_undone(self, session: str, ts: float) -> bool:
        """Mark the session's event at ``ts`` as undone (its page answered 4xx/5xx)."""
        j = self._by_session.get(session)
        if j is None:
            return False
        for i in range(len(j.events) - 1, -1, -1):
            if j.events[i].ts == ts:
                j.events[i] = j.events[i]._replace(undone=True)
                return True
        return False

    def session_of(self, pseudonym: str) -> str | None:
        return self._by_pseudonym.get(pseudonym)

    def sessions_of(self, profiles: Iterable[str]) -> list[str]:
        """Raw session tokens whose journal ever named one of ``profiles``."""
        wanted = set(profiles)
        return [s for s, j in self._by_session.items()
                if j.profile in wanted or not wanted.isdisjoint(j.profiles)]

    def drop(self, session: str) -> bool:
        j = self._by_session.pop(session, None)
        if j is None:
            return False
        self._by_pseudonym.pop(j.pseudonym, None)
        return True
