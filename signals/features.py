"""Session state -> feature vector. Names, order and transforms are data, so a model artifact
carries them and the proxy refuses a model naming a feature this module does not know.

Pure: ``extract`` fills a caller-owned float64 buffer and allocates nothing per call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from signals.events import EventKind
from signals.state import (
    DECAYED_AT,
    DISTINCT_C,
    DISTINCT_P,
    DWELL_N,
    DWELL_SUM,
    PV_TOTAL,
    REVISITS,
    STARTED,
    SessionState,
)

# Decayed counters: feature name -> event kind.
COUNTER_FEATURES: dict[str, EventKind] = {
    "product_views": EventKind.PRODUCT_VIEW,
    "category_views": EventKind.CATEGORY_VIEW,
    "searches": EventKind.SEARCH,
    "comparisons": EventKind.COMPARE,
    "cart_adds": EventKind.CART_ADD,
    "cart_removes": EventKind.CART_REMOVE,
    "checkout_steps": EventKind.CHECKOUT_STEP,
    "price_sorts": EventKind.PRICE_SORT_OR_FILTER,
    "deal_views": EventKind.DEAL_VIEW,
    "review_views": EventKind.REVIEW_VIEW,
    "wishlist_adds": EventKind.WISHLIST_ADD,
}
OTHER_FEATURES = (
    "dwell_per_product_s",  # decayed mean dwell, seconds, on product pages
    "distinct_products",  # distinct products seen in the session (bounded ring)
    "distinct_categories",
    "session_minutes",  # minutes since the session's first event
    "revisit_rate",  # share of product views that revisit an already-seen product
)
FEATURE_NAMES: tuple[str, ...] = tuple(COUNTER_FEATURES) + OTHER_FEATURES
TRANSFORMS = ("identity", "log1p", "sqrt")
DEFAULT_FEATURES: tuple[tuple[str, str], ...] = tuple(
    (name, "identity" if name == "revisit_rate" else "log1p") for name in FEATURE_NAMES
)
# Words for explanations: feature -> (unit, singular noun).
UNITS: dict[str, str] = {
    **{name: name.replace("_", " ") for name in COUNTER_FEATURES},
    "dwell_per_product_s": "seconds per product page",
    "distinct_products": "different products",
    "distinct_categories": "different categories",
    "session_minutes": "minutes in the session",
    "revisit_rate": "share of product views that were revisits",
}

_T_IDENTITY, _T_LOG1P, _T_SQRT = 0, 1, 2
_T_CODES = {"identity": _T_IDENTITY, "log1p": _T_LOG1P, "sqrt": _T_SQRT}
# Non-counter features: code -> how to read them.
_K_DWELL, _K_DP, _K_DC, _K_MIN, _K_REV = 100, 101, 102, 103, 104
_OTHER_CODES = dict(zip(OTHER_FEATURES, (_K_DWELL, _K_DP, _K_DC, _K_MIN, _K_REV), strict=True))
# State slots the compiled extraction reads (signals/_extract.py).
_SLOTS = np.array([DECAYED_AT, STARTED, DWELL_SUM, DWELL_N, DISTINCT_P, DISTINCT_C, REVISITS,
                   PV_TOTAL], dtype=np.int64)


def raw_value(state: SessionState, name: str, now: float) -> float:
    """The untransformed value of one feature at ``now``."""
    v = state.v
    if name in COUNTER_FEATURES:
        return v[int(COUNTER_FEATURES[name])] * state.decay_factor(now)
    if name == "dwell_per_product_s":
        return v[DWELL_SUM] / v[DWELL_N] if v[DWELL_N] > 1e-9 else 0.0
    if name == "distinct_products":
        return v[DISTINCT_P]
    if name == "distinct_categories":
        return v[DISTINCT_C]
    if name == "session_minutes":
        return max(now - v[STARTED], 0.0) / 60.0 if v[STARTED] > 0.0 else 0.0
    if name == "revisit_rate":
        return v[REVISITS] / v[PV_TOTAL] if v[PV_TOTAL] > 0.0 else 0.0
    raise KeyError(name)


def raw_values(state: SessionState, now: float) -> dict[str, float]:
    """Every known feature's untransformed value (for explanations)."""
    return {name: raw_value(state, name, now) for name in FEATURE_NAMES}


def apply_transform(transform: str, value: float) -> float:
    if transform == "log1p":
        return math.log1p(max(value, 0.0))
    if transform == "sqrt":
        return math.sqrt(max(value, 0.0))
    if transform == "identity":
        return value
    raise ValueError(f"unknown transform {transform!r}")


class FeatureExtractor:
    """Built once per model from its feature names and transforms (validated here)."""

    __slots__ = ("names", "transforms", "_plan", "_sources", "_codes", "_kernel")

    def __init__(self, names: Sequence[str], transforms: Sequence[str]) -> None:
        names = tuple(names)
        transforms = tuple(transforms)
        if len(names) != len(transforms):
            raise ValueError(f"{len(names)} feature names but {len(transforms)} transforms")
        if not names:
            raise ValueError("a model needs at least one feature")
        plan: list[tuple[int, int]] = []
        for name, transform in zip(names, transforms, strict=True):
            if name in COUNTER_FEATURES:
                source = int(COUNTER_FEATURES[name])
            elif name in _OTHER_CODES:
                source = _OTHER_CODES[name]
            else:
                raise ValueError(f"unknown feature {name!r} (signals knows {list(FEATURE_NAMES)})")
            if transform not in _T_CODES:
                raise ValueError(f"unknown transform {transform!r} for feature {name!r}")
            plan.append((source, _T_CODES[transform]))
        self.names = names
        self.transforms = transforms
        self._plan = tuple(plan)
        self._sources = np.array([p[0] for p in plan], dtype=np.int64)
        self._codes = np.array([p[1] for p in plan], dtype=np.int64)
        self._kernel: Any = None

    def warm(self) -> None:
        """Compile (or load from Numba's cache) the extraction kernel, before traffic."""
        if self._kernel is None:
            from signals._extract import extract_into

            self._kernel = extract_into
            state = SessionState()
            extract_into(state.v, self._sources, self._codes, 1.0, 600.0, _SLOTS,
                         np.zeros(len(self.names), dtype=np.float64))

    def extract(self, state: SessionState, now: float, out: npt.NDArray[np.float64]) -> None:
        """Fill ``out`` (shape ``(d,)``, float64) with the transformed features at ``now``."""
        kernel = self._kernel
        if kernel is None:
            self.warm()
            kernel = self._kernel
        kernel(state.v, self._sources, self._codes, now, state.config.half_life, _SLOTS, out)

    def extract_py(self, state: SessionState, now: float,
                   out: npt.NDArray[np.float64]) -> None:
        """The same as ``extract`` in plain Python (the reference the kernel is tested against)."""
        v = state.v
        f = state.decay_factor(now)
        log1p = math.log1p
        for i, (source, t) in enumerate(self._plan):
            if source < 100:
                x = v[source] * f
            elif source == _K_DWELL:
                x = v[DWELL_SUM] / v[DWELL_N] if v[DWELL_N] > 1e-9 else 0.0
            elif source == _K_DP:
                x = v[DISTINCT_P]
            elif source == _K_DC:
                x = v[DISTINCT_C]
            elif source == _K_MIN:
                x = (now - v[STARTED]) / 60.0 if v[STARTED] > 0.0 and now > v[STARTED] else 0.0
            else:
                x = v[REVISITS] / v[PV_TOTAL] if v[PV_TOTAL] > 0.0 else 0.0
            if t == _T_LOG1P:
                x = log1p(x) if x > 0.0 else 0.0
            elif t == _T_SQRT:
                x = math.sqrt(x) if x > 0.0 else 0.0
            out[i] = x

    def vector(self, state: SessionState, now: float) -> npt.NDArray[np.float64]:
        """A fresh vector (offline use; the proxy reuses one buffer)."""
        out = np.zeros(len(self.names), dtype=np.float64)
        self.extract(state, now, out)
        return out


def describe(name: str, value: float) -> str:
    """Plain words for a raw value: ``describe("comparisons", 4.2)`` -> ``"4.2 comparisons"``."""
    unit = UNITS.get(name, name)
    if name == "revisit_rate":
        return f"{value * 100:.0f} % of product views were revisits"
    return f"{value:.1f} {unit}"

