"""Attribution -> header values: the ``X-Intent-Signals`` text and the confidence text.

For the winning class c and the runner-up r, signal f contributed ``(z_f − r_f)² − (z_f − c_f)²``
(scaled space); the contributions add up to the margin ``d²_r − d²_c``. The header lists the
largest positive contributions as shares of that margin, highest first. No I/O, no web framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

# Confidence is printed with two decimals: 101 prebuilt values instead of formatting per request.
_CONFIDENCE = tuple(f"{i / 100:.2f}".encode() for i in range(101))


def confidence_value(confidence: float) -> bytes:
    """``0.834`` -> ``b"0.83"`` (clamped to 0..1, rounded half up to two decimals)."""
    if not confidence > 0.0:  # also catches NaN
        return _CONFIDENCE[0]
    if confidence >= 1.0:
        return _CONFIDENCE[100]
    return _CONFIDENCE[int(confidence * 100.0 + 0.5)]


def top_signals(
    contrib: npt.NDArray[np.float64], margin: float, top_n: int
) -> list[tuple[int, float]]:
    """Indices and shares of the ``top_n`` largest positive contributions, highest first.

    ``contrib`` has shape ``(d,)``; shares are ``contrib[f] / margin``. An empty list when the
    margin is not positive (a tie between the two nearest centroids explains nothing).
    """
    if not margin > 0.0:
        return []
    values = contrib.tolist()
    order = sorted(range(len(values)), key=values.__getitem__, reverse=True)
    inv = 1.0 / margin
    out = []
    for i in order[:top_n]:
        v = values[i]
        if v <= 0.0:
            break
        out.append((i, v * inv))
    return out


def signals_value(
    contrib: npt.NDArray[np.float64], margin: float, names: tuple[str, ...], top_n: int
) -> bytes:
    """``b"comparisons=0.46, price_sorts=0.21, product_views=0.09"`` (the same choice and order
    as ``top_signals``; the selection is compiled, see ``_top_positive``)."""
    if not margin > 0.0:
        return b""
    idx = _IDX if top_n <= len(_IDX) else np.empty(top_n, dtype=np.int64)
    n = _top_positive(contrib, top_n, idx)
    if not n:
        return b""
    inv = 1.0 / margin
    if n == 1:
        i = int(idx[0])
        return f"{names[i]}={float(contrib[i]) * inv:.2f}".encode()
    return ", ".join(
        [f"{names[i]}={float(contrib[i]) * inv:.2f}" for i in idx[:n].tolist()]
    ).encode()


_IDX = np.empty(16, dtype=np.int64)


@njit(cache=True, nogil=True)
def _top_positive(contrib: Any, top_n: int, idx: Any) -> int:  # pragma: no cover - compiled
    """The indices of the ``top_n`` largest positive entries into ``idx``, highest first; among
    equal values the lower index first (what a stable descending sort gives). Returns how
    many."""
    n = 0
    d = contrib.shape[0]
    while n < top_n:
        best = -1
        for j in range(d):
            taken = False
            for m in range(n):
                if idx[m] == j:
                    taken = True
                    break
            if taken:
                continue
            if best == -1 or contrib[j] > contrib[best]:
                best = j
        if best == -1 or not contrib[best] > 0.0:
            break
        idx[n] = best
        n += 1
    return n


def warm() -> None:
    """Compile (or load from Numba's cache) the selection kernel, before traffic."""
    _top_positive(np.zeros(2), 1, _IDX)
