"""A candidate model scoring beside the live one: agreement rate and the live × candidate
confusion matrix. It has its own extractor, scorer and buffers, and never touches headers.

Classes are compared by slug (``undetermined`` included), so a retrained model that keeps its
segments' names agrees where it should. Pure: time arrives as ``now``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from classifiers.artifact import Model
from classifiers.kernels import MIN_EVENTS, Scorer
from signals.features import FeatureExtractor
from signals.state import SessionState


class Shadow:
    """Scores every observed session state with ``candidate``; counts agreement by slug."""

    __slots__ = ("candidate", "min_events", "started_at", "scorer", "extractor", "x",
                 "decisions", "agreed", "confusion")

    def __init__(
        self, candidate: Model, *, min_events: int = MIN_EVENTS, started_at: float = 0.0
    ) -> None:
        self.candidate = candidate
        self.min_events = min_events
        self.started_at = started_at
        self.scorer = Scorer(candidate, min_events=min_events)
        self.extractor = FeatureExtractor(candidate.feature_names, candidate.transforms)
        self.x: npt.NDArray[np.float64] = np.zeros(candidate.d, dtype=np.float64)
        self.decisions = 0
        self.agreed = 0
        # (live slug, candidate slug) -> count
        self.confusion: dict[tuple[str, str], int] = {}

    def warm(self) -> None:
        self.scorer.warm()

    def classify(self, state: SessionState, now: float) -> str:
        """The candidate's class for ``state``: the proxy's rule (``Scorer.label``) without
        hysteresis."""
        scorer = self.scorer
        self.extractor.extract(state, now, self.x)
        return scorer.slug(scorer.label(state.events_seen, self.x)[0])

    def observe(self, state: SessionState, now: float, live_slug: str) -> str:
        """Score ``state`` with the candidate and count it against ``live_slug``."""
        slug = self.classify(state, now)
        self.decisions += 1
        if slug == live_slug:
            self.agreed += 1
        key = (live_slug, slug)
        self.confusion[key] = self.confusion.get(key, 0) + 1
        return slug

    def report(self, live_version: str | None = None) -> dict[str, Any]:
        """Agreement rate and the confusion matrix (rows: live classes, columns: candidate)."""
        rows = sorted({live for live, _ in self.confusion})
        cols = sorted({cand for _, cand in self.confusion})
        return {
            "candidate": self.candidate.version,
            "live": live_version,
            "since": self.started_at,
            "decisions": self.decisions,
            "agreed": self.agreed,
            "agreement_rate": round(self.agreed / self.decisions, 4) if self.decisions else None,
            "rows": rows,
            "columns": cols,
            "matrix": [[self.confusion.get((r, c), 0) for c in cols] for r in rows],
        }
