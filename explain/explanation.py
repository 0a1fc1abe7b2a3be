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
from classifiers.kernels import BEYOND_RADIUS, FEW_EVENTS, MIN_EVENTS, NO_CLASS_HOLDS, Scorer
from explain.headers import top_signals
from signals.events import EventKind, ShopperEvent
from signals.features import FeatureExtractor, raw_value
from signals.state import SessionState

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


# Scorer.reason's codes in a merchandiser's words.
_REASONS = {
    FEW_EVENTS: "fewer than {min_events} events so far",
    NO_CLASS_HOLDS: "the session shows none of the behaviours the segments rest on",
    BEYOND_RADIUS: ("a combination of signals no segment covers: farther from the nearest "
                    "segment's centre than its radius, in directions it does not define"),
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
    model: Model, state: SessionState, now: float, *, min_events: int = MIN_EVENTS,
    scorer: Scorer | None = None, previous: str | None = None, switch_margin: float = 0.0,
) -> dict[str, Any]:
    """The full explanation of ``state`` under ``model`` at ``now`` (JSON-ready), for the class
    the proxy gives: ``previous`` is the session's class before (hysteresis), ``switch_margin``
    the proxy's setting.

    ``signals`` is what a merchandiser reads: the signals the shopper showed (raw value not 0)
    that pull toward the class given, as ``share``s of that positive evidence (each 0..1,
    together 1), highest first, in words. ``attribution`` is the technical detail: for the
    class given c and the runner-up r (nearest other class whose requirements hold) every
    signal's ``(z_f − r_f)² − (z_f − c_f)²``, adding up to ``margin`` (scaled space).
    ``requirements`` are the class's own, with the session's value; ``distances`` are
    Euclidean distances in scaled space; ``radius`` is the class's (one-sided). The class is
    ``Scorer.label``'s; a ``scorer`` passed in brings its own ``min_events`` and switch margin.
    """
    if scorer is None:
        scorer = Scorer(model, switch_margin, min_events=min_events)
    x = FeatureExtractor(model.feature_names, model.transforms).vector(state, now)
    index = {slug: i for i, slug in enumerate(model.slugs)}
    prev = index.get(previous, -1) if previous is not None else -1
    events = state.events_seen
    given, runner, confidence, _ = scorer.label(events, x, prev)
    d2 = scorer.d2.copy()
    contrib = scorer.contrib.copy()
    evidence = scorer.evidence.copy()
    nearest = int(np.argmin(d2))
    minutes = raw_value(state, "session_minutes", now)
    raw = {name: raw_value(state, name, now) for name in model.feature_names}
    why = scorer.reason(events, given, runner)
    reason = None if why is None else _REASONS[why].format(min_events=scorer.min_events)
    total = float(evidence[evidence > 0.0].sum()) if given >= 0 else 0.0
    signals: list[dict[str, Any]] = []
    if total > 0.0:
        for f in np.argsort(-evidence, kind="stable").tolist():
            if not evidence[f] > 0.0:
                break
            name = model.feature_names[f]
            signals.append({
                "signal": name, "raw_value": round(raw[name], 4),
                "in_words": in_words(name, raw[name], minutes),
                "share": round(float(evidence[f]) / total, 4),
            })
    margin = float(d2[runner] - d2[given]) if given >= 0 and runner >= 0 else 0.0
    attribution: list[dict[str, Any]] = [
        {"signal": name, "raw_value": round(raw[name], 4), "transformed": round(float(x[f]), 6),
         "contribution": round(float(contrib[f]), 6) if given >= 0 else 0.0,
         "margin_share": round(float(contrib[f]) / margin, 4) if margin > 0 else None}
        for f, name in enumerate(model.feature_names)
    ]
    attribution.sort(key=lambda a: -a["contribution"])
    show = given if given >= 0 else nearest
    return {
        "model": model.version,
        "class": scorer.slug(given),
        "undetermined_reason": reason,
        "nearest": model.slugs[nearest],
        "runner_up": model.slugs[runner] if runner >= 0 and given >= 0 else None,
        "confidence": round(float(confidence), 4) if given >= 0 else 0.0,
        "margin": round(margin, 6),
        "signals": signals,
        "attribution": attribution,
        "requirements": [
            {"signal": sig, "min": m, "raw_value": round(raw[sig], 4), "holds": raw[sig] >= m}
            for sig, m in model.requirements[show]
        ] if model.requirements else [],
        "distances": {slug: round(math.sqrt(v), 4)
                      for slug, v in zip(model.slugs, d2.tolist(), strict=True)},
        # Per class whose requirements do not hold: the signals it needs more of than the
        # shopper has shown (that class cannot be given, however near the session is).
        "unmet": {slug: unmet for slug, reqs in zip(model.slugs, model.requirements, strict=True)
                  if (unmet := [sig for sig, m in reqs if not raw[sig] >= m])}
        if model.requirements else {},
        "radius": round(math.sqrt(float(model.radius2[show])), 4),
    }


def evidence_shares(
    evidence: npt.NDArray[np.float64], names: tuple[str, ...], n: int = 3
) -> tuple[tuple[str, float], ...]:
    """The ``n`` largest positive evidence values as ``(name, share of all positive
    evidence)``, highest first, exactly as ``X-Intent-Signals`` states them (shares rounded
    down to two decimals, a share under 0.01 left out): each in 0..1, together at most 1."""
    return tuple((names[i], math.floor(share * 100.0) / 100.0)
                 for i, share in top_signals(evidence, n) if share >= 0.01)


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


# Slugs indexed by the kind (an int or an EventKind): ``EventKind(kind)`` costs ~0.6 µs per
# call (the enum's Python-level ``__call__``), once per booked decision.
_SLUG_OF = tuple(k.slug for k in EventKind)


def step_of(event: ShopperEvent) -> Step:
    """One event as the timeline keeps it (text fields truncated)."""
    # _cut inlined: once per booked decision, three calls cost ~0.2 µs.
    p, c, q = event.product, event.category, event.query
    return Step(event.ts, _SLUG_OF[event.kind],
                p if p is None or len(p) <= _TEXT else p[:_TEXT],
                c if c is None or len(c) <= _TEXT else c[:_TEXT],
                q if q is None or len(q) <= _TEXT else q[:_TEXT], event.value)


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

    @staticmethod
    def undo(
        j: Journal, ts: float, cls: str, event: ShopperEvent | None
    ) -> tuple[bool, str | None]:
        """Take out the class change to ``cls`` made at ``ts`` by an event that was undone (the
        event itself stays in the timeline, marked undone by ``mark_undone``). Returns (whether
        a change was taken out, the class before it); the session's current class goes back
        only if nothing changed it since."""
        for i in range(len(j.changes) - 1, -1, -1):
            change = j.changes[i]
            if change.ts == ts and change.cls == cls:
                del j.changes[i]
                if j.last_class == cls:
                    j.last_class = change.previous
                return True, change.previous
        return False, None

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
