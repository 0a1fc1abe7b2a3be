"""The live class mix: decisions counted per class in fixed time buckets over a recent window.

Memory is bounded: ``buckets`` buckets of at most one counter per class slug. Counting by slug
keeps the series continuous across a model swap. Pure: time arrives as ``now`` (seconds).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from classifiers import UNDETERMINED


class LiveMix:
    """Decisions per class in ``bucket_s``-second buckets, the last ``buckets`` of them."""

    __slots__ = ("bucket_s", "buckets", "_ring")

    def __init__(self, bucket_s: float = 60.0, buckets: int = 60) -> None:
        if bucket_s <= 0 or buckets < 1:
            raise ValueError("bucket_s must be > 0 and buckets at least 1")
        self.bucket_s = float(bucket_s)
        self.buckets = buckets
        # (bucket number = floor(t / bucket_s), slug -> count), oldest first.
        self._ring: deque[tuple[int, dict[str, int]]] = deque(maxlen=buckets)

    @classmethod
    def from_buckets(
        cls, rows: Sequence[tuple[int, dict[str, int]]], bucket_s: float = 60.0,
        buckets: int = 60,
    ) -> LiveMix:
        """A mix holding ``rows`` (bucket number, slug -> count), e.g. read from a shared
        store; oldest first."""
        mix = cls(bucket_s, buckets)
        for b, counts in sorted(rows, key=lambda r: r[0])[-buckets:]:
            mix._ring.append((b, dict(counts)))
        return mix

    def rows(self) -> list[tuple[int, dict[str, int]]]:
        """The buckets held, oldest first (bucket number, slug -> count)."""
        return [(b, dict(c)) for b, c in self._ring]

    @property
    def window_s(self) -> float:
        return self.bucket_s * self.buckets

    def add(self, slug: str, now: float) -> None:
        b = int(now // self.bucket_s)
        ring = self._ring
        if not ring or ring[-1][0] < b:
            ring.append((b, {}))
        # A late decision (the clock stepped back) counts in the newest bucket.
        counts = ring[-1][1]
        counts[slug] = counts.get(slug, 0) + 1

    def _live(self, now: float, window_s: float | None) -> list[tuple[int, dict[str, int]]]:
        span = self.window_s if window_s is None else window_s
        newest = int(now // self.bucket_s)
        oldest = newest - max(int(round(span / self.bucket_s)), 1)
        return [(b, c) for b, c in self._ring if oldest < b <= newest]

    def counts(self, now: float, window_s: float | None = None) -> dict[str, int]:
        """Decisions per slug over the last ``window_s`` seconds (default: the whole window)."""
        out: dict[str, int] = {}
        for _, counts in self._live(now, window_s):
            for slug, n in counts.items():
                out[slug] = out.get(slug, 0) + n
        return out

    def shares(
        self, slugs: Sequence[str], training_pct: Sequence[float], now: float,
        window_s: float | None = None,
    ) -> dict[str, Any]:
        """Share of traffic per class now beside its share in training (both in percent).

        Live shares are of classified decisions (``undetermined`` reported on its own).
        """
        counts = self.counts(now, window_s)
        classified = sum(counts.get(s, 0) for s in slugs)
        total = classified + counts.get(UNDETERMINED, 0)
        rows = []
        for slug, pct in zip(slugs, training_pct, strict=True):
            n = counts.get(slug, 0)
            rows.append({
                "slug": slug, "live_decisions": n,
                "live_percentage": round(100.0 * n / classified, 2) if classified else 0.0,
                "training_percentage": round(float(pct), 2),
            })
        return {
            "window_s": self.window_s if window_s is None else window_s,
            "decisions": total, "classified": classified,
            "undetermined": counts.get(UNDETERMINED, 0),
            "undetermined_percentage": round(100.0 * counts.get(UNDETERMINED, 0) / total, 2)
            if total else 0.0,
            "classes": rows,
        }

    def series(self, now: float) -> list[dict[str, Any]]:
        """One point per bucket of the window, oldest first, empty buckets included:
        ``{"t": bucket start, "counts": {slug: n}}`` (for the chart)."""
        newest = int(now // self.bucket_s)
        by_bucket = dict(self._ring)
        return [
            {"t": b * self.bucket_s, "counts": dict(by_bucket.get(b, {}))}
            for b in range(newest - self.buckets + 1, newest + 1)
        ]
