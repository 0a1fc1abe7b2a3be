"""What a class rests on: its requirements, and the keyword table that derives them for
artifacts written before ``fit`` recorded them.

A requirement ``(signal, min)`` holds when the session's raw value of ``signal`` (the value before
the feature transform and the scaler: the decayed ``cart_adds`` count, say) is at least ``min``.
A class is only given to a session whose every requirement holds; a class without requirements
has no constraint. The kernel compares in transformed space: ``min`` goes through the feature's
transform once, at load (every transform is monotonic, so ``t(v) >= t(min)`` iff ``v >= min``).

Deriving (only for an artifact in which no class carries ``requires``): a class needs a signal
when a keyword of ``KEYWORDS`` appears in its slug, display name or description, the signal is
among the model's features, *and* the class's centroid is distinctly high on it (at least
``DERIVE_MIN_Z`` scaler units above the training mean). The last condition keeps a phrase like
"without adding to cart" from making a cart requirement. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Word stem (matched at the start of a word, case-insensitive) -> the signal it names.
KEYWORDS: tuple[tuple[str, str], ...] = (
    ("cart", "cart_adds"),
    ("basket", "cart_adds"),
    ("remov", "cart_removes"),
    ("compar", "comparisons"),
    ("wishlist", "wishlist_adds"),
    ("wish", "wishlist_adds"),
    ("search", "searches"),
    ("deal", "deal_views"),
    ("sale", "deal_views"),
    ("discount", "deal_views"),
    ("review", "review_views"),
    ("price", "price_sorts"),
    ("sort", "price_sorts"),
    ("checkout", "checkout_steps"),
    ("categor", "category_views"),
    ("revisit", "revisit_rate"),
    ("returning", "revisit_rate"),
)
# The derived minimum per signal. Counters decay (half-life 10 minutes by default), so one
# action long ago is worth less than 1: 0.1 is one action within about 3.3 half-lives (33
# minutes at the default half-life: longer than the 30-minute idle gap that ends a session).
DERIVED_MIN: dict[str, float] = {"revisit_rate": 0.01}
DERIVED_COUNTER_MIN = 0.1
DERIVE_MIN_Z = 0.5

_WORD = {stem: re.compile(rf"(?<![a-z]){stem}", re.IGNORECASE) for stem, _ in KEYWORDS}


def derive(
    texts: Sequence[str], feature_names: Sequence[str], centroid_z: Sequence[float]
) -> tuple[tuple[str, float], ...]:
    """``(signal, min)`` pairs for one class from its words (slug, display name, description)
    and its centroid in scaled units (one value per feature), in feature order."""
    text = " ".join(t.replace("-", " ").replace("_", " ") for t in texts)
    wanted: set[str] = set()
    for stem, signal in KEYWORDS:
        if _WORD[stem].search(text):
            wanted.add(signal)
    out = []
    for f, name in enumerate(feature_names):
        if name in wanted and centroid_z[f] >= DERIVE_MIN_Z:
            out.append((name, DERIVED_MIN.get(name, DERIVED_COUNTER_MIN)))
    return tuple(out)


def transform_min(transform: str, value: float) -> float:
    """``value`` through a feature transform (``identity``, ``log1p``, ``sqrt``)."""
    if transform == "log1p":
        return math.log1p(value)
    if transform == "sqrt":
        return math.sqrt(value)
    if transform == "identity":
        return value
    raise ValueError(f"unknown transform {transform!r}")


def bounds(
    requirements: Sequence[Sequence[tuple[str, float]]], feature_names: Sequence[str],
    transforms: Sequence[str],
) -> npt.NDArray[np.float64]:
    """``(k, d)`` lower bounds on the transformed feature values: ``-inf`` where a class
    requires nothing of a feature."""
    index = {n: i for i, n in enumerate(feature_names)}
    out = np.full((len(requirements), len(feature_names)), -np.inf, dtype=np.float64)
    for c, reqs in enumerate(requirements):
        for signal, minimum in reqs:
            f = index[signal]
            out[c, f] = transform_min(transforms[f], minimum)
    return out


# A class "defines" a direction of a feature when its centroid lies at least this many scaler
# units from the training mean; distance beyond the centroid in that direction is not held
# against a session by the radius rule (more of what defines a class is still that class).
ONE_SIDED_MIN_Z = 0.5


def sides(
    centroids: npt.NDArray[np.float64], bounds_: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``(k, d)``: 2 where the class requires the feature (more of it never counts against
    the session, in the distance or the radius), +1 / -1 where its centroid defines a direction
    (beyond it only the radius rule ignores), 0 elsewhere."""
    out = np.zeros(centroids.shape, dtype=np.float64)
    out[centroids >= ONE_SIDED_MIN_Z] = 1.0
    out[centroids <= -ONE_SIDED_MIN_Z] = -1.0
    out[np.isfinite(bounds_)] = 2.0
    return out


def holds(
    raw: Sequence[float], requirements: Sequence[tuple[str, float]],
    feature_names: Sequence[str],
) -> bool:
    """Whether raw feature values (untransformed, in feature order) meet every requirement."""
    index = {n: i for i, n in enumerate(feature_names)}
    return all(raw[index[s]] >= m for s, m in requirements)
