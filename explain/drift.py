"""Drift: is live traffic still the population the model was trained on?

Two measures. The population stability index of the class mix,

    PSI = Σ_c (p_c − q_c) · ln(p_c / q_c)      p = live share, q = training share

(both floored at ``EPSILON`` so an empty class does not divide by zero), flagged above
``psi_threshold`` (0.2 by convention: 0.1–0.2 is a moderate shift, above 0.2 a major one). And
per signal, the live mean of its transformed value against the training mean stored in the
artifact's scaler, in training standard deviations: ``(live_mean − mean) / scale``, flagged
when ``|shift| > shift_threshold``. Live means are kept in time buckets over a recent window,
so memory is bounded and old traffic ages out. Pure: time arrives as ``now``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from classifiers.artifact import Model

EPSILON = 1e-4
PSI_THRESHOLD = 0.2


def psi(live: Sequence[float], training: Sequence[float]) -> float:
    """PSI of two distributions over the same classes (each normalised to sum to 1 here)."""
    p = np.maximum(np.asarray(live, dtype=np.float64), 0.0)
    q = np.maximum(np.asarray(training, dtype=np.float64), 0.0)
    if p.shape != q.shape or p.size == 0:
        raise ValueError("live and training shares need the same, non-zero length")
    p = p / p.sum() if p.sum() > 0 else np.full_like(p, 1.0 / p.size)
    q = q / q.sum() if q.sum() > 0 else np.full_like(q, 1.0 / q.size)
    p = np.maximum(p, EPSILON)
    q = np.maximum(q, EPSILON)
    return float(((p - q) * np.log(p / q)).sum())


class DriftMonitor:
    """Running feature sums of one model's live vectors, bucketed over a recent window."""

    __slots__ = ("model", "bucket_s", "buckets", "psi_threshold", "shift_threshold",
                 "min_samples", "_ring")

    def __init__(
        self, model: Model, *, bucket_s: float = 60.0, buckets: int = 60,
        psi_threshold: float = PSI_THRESHOLD, shift_threshold: float = 0.5,
        min_samples: int = 30,
    ) -> None:
        if bucket_s <= 0 or buckets < 1:
            raise ValueError("bucket_s must be > 0 and buckets at least 1")
        self.model = model
        self.bucket_s = float(bucket_s)
        self.buckets = buckets
        self.psi_threshold = psi_threshold
        self.shift_threshold = shift_threshold
        self.min_samples = min_samples
        # (bucket number, [count], sum of x (d,))
        self._ring: deque[tuple[int, list[int], npt.NDArray[np.float64]]] = deque(
            maxlen=buckets)

    def load(self, rows: Sequence[tuple[int, int, Sequence[float]]]) -> None:
        """Replace the window with ``rows`` (bucket number, vectors, sum of x), e.g. read from
        a shared store."""
        self._ring.clear()
        for b, n, sums in sorted(rows, key=lambda r: r[0])[-self.buckets:]:
            self._ring.append((b, [int(n)], np.asarray(sums, dtype=np.float64).copy()))

    def rows(self) -> list[tuple[int, int, list[float]]]:
        """The buckets held, oldest first: (bucket number, vectors, sum of x)."""
        return [(b, n[0], sums.tolist()) for b, n, sums in self._ring]

    def observe(self, x: npt.NDArray[np.float64], now: float) -> None:
        """Add one transformed feature vector ``x`` (shape ``(d,)``; copied into a sum)."""
        b = int(now // self.bucket_s)
        ring = self._ring
        if not ring or ring[-1][0] < b:
            ring.append((b, [0], np.zeros(self.model.d, dtype=np.float64)))
        _, n, sums = ring[-1]
        n[0] += 1
        sums += x

    def _window(self, now: float) -> tuple[int, npt.NDArray[np.float64]]:
        newest = int(now // self.bucket_s)
        total = np.zeros(self.model.d, dtype=np.float64)
        count = 0
        for b, n, sums in self._ring:
            if newest - self.buckets < b <= newest:
                count += n[0]
                total += sums
        return count, total

    def report(self, class_counts: Mapping[str, int], now: float) -> dict[str, Any]:
        """PSI of ``class_counts`` (live decisions per slug, over the same window) against the
        training shares, and each signal's mean shift; ``drift`` is true when either flags."""
        model = self.model
        training = [c.percentage for c in model.artifact.classes]
        live = [float(class_counts.get(s, 0)) for s in model.slugs]
        classified = int(sum(live))
        enough_mix = classified >= self.min_samples
        value = psi(live, training) if classified else 0.0
        n, sums = self._window(now)
        enough_x = n >= self.min_samples
        signals: list[dict[str, Any]] = []
        if n:
            means = sums / n
            shifts = (means - model.mean) * model.inv_scale
            for f, name in enumerate(model.feature_names):
                shift = float(shifts[f])
                signals.append({
                    "signal": name, "live_mean": round(float(means[f]), 4),
                    "training_mean": round(float(model.mean[f]), 4),
                    "shift_sd": round(shift, 3),
                    "flagged": enough_x and abs(shift) > self.shift_threshold,
                })
            signals.sort(key=lambda s: -abs(float(s["shift_sd"])))
        psi_flag = enough_mix and value > self.psi_threshold
        return {
            "model": model.version,
            "window_s": self.bucket_s * self.buckets,
            "psi": round(value, 4) if math.isfinite(value) else None,
            "psi_threshold": self.psi_threshold,
            "psi_flagged": psi_flag,
            "classified_decisions": classified,
            "vectors": n,
            "enough_traffic": enough_mix and enough_x,
            "min_samples": self.min_samples,
            "shift_threshold_sd": self.shift_threshold,
            "signals": signals,
            "classes": [
                {"slug": s, "live_percentage": round(100.0 * c / classified, 2)
                 if classified else 0.0, "training_percentage": round(t, 2)}
                for s, c, t in zip(model.slugs, live, training, strict=True)
            ],
            "drift": psi_flag or any(s["flagged"] for s in signals),
        }
