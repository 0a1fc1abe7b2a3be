"""The feature-extraction loop of ``signals.features.FeatureExtractor`` compiled with Numba:
the same arithmetic (C ``log1p``, ``sqrt`` and ``pow``, in the same order) as the Python it
replaces, read straight from the state's ``array('d')`` buffer, in one call of about 0.4 µs
instead of a Python loop of about 2 µs. Imported on first use, so importing ``signals`` stays
cheap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit


@njit(cache=True, nogil=True)
def extract_into(
    v: Any, sources: npt.NDArray[np.int64], transforms: npt.NDArray[np.int64],
    now: float, half_life: float, slots: npt.NDArray[np.int64], out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """``slots``: DECAYED_AT, STARTED, DWELL_SUM, DWELL_N, DISTINCT_P, DISTINCT_C, REVISITS,
    PV_TOTAL (indices into ``v``); sources and transform codes as in ``signals.features``."""
    dt = now - v[slots[0]]
    f = 1.0 if dt <= 0.0 else 2.0 ** (-dt / half_life)
    for i in range(sources.shape[0]):
        source = sources[i]
        if source < 100:
            x = v[source] * f
        elif source == 100:
            x = v[slots[2]] / v[slots[3]] if v[slots[3]] > 1e-9 else 0.0
        elif source == 101:
            x = v[slots[4]]
        elif source == 102:
            x = v[slots[5]]
        elif source == 103:
            started = v[slots[1]]
            x = (now - started) / 60.0 if started > 0.0 and now > started else 0.0
        else:
            x = v[slots[6]] / v[slots[7]] if v[slots[7]] > 0.0 else 0.0
        t = transforms[i]
        if t == 1:
            x = math.log1p(x) if x > 0.0 else 0.0
        elif t == 2:
            x = math.sqrt(x) if x > 0.0 else 0.0
        out[i] = x
