"""Evidence -> header values: the ``X-Intent-Signals`` text and the confidence text.

The kernel leaves, for the class given c, each signal's evidence ``e_f = z_f · mu_c,f`` where
the shopper's value is not 0 and lies on the class's side of the population mean (else 0):
the signals the shopper showed that pull toward c. The header lists the largest as shares of
their sum, highest first: every share is in 0..1, together at most 1, and a signal at 0 is
never listed. No I/O, no web framework.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Confidence is printed with two decimals: 101 prebuilt values instead of formatting per request.
_CONFIDENCE = tuple(f"{i / 100:.2f}".encode() for i in range(101))
# Shares are printed with two decimals, rounded down so the listed shares never add up to > 1.
_SHARE = tuple(f"{i / 100:.2f}" for i in range(101))


def confidence_value(confidence: float) -> bytes:
    """``0.834`` -> ``b"0.83"`` (clamped to 0..1, rounded half up to two decimals)."""
    if not confidence > 0.0:  # also catches NaN
        return _CONFIDENCE[0]
    if confidence >= 1.0:
        return _CONFIDENCE[100]
    return _CONFIDENCE[int(confidence * 100.0 + 0.5)]


def top_signals(evidence: npt.NDArray[np.float64], top_n: int) -> list[tuple[int, float]]:
    """Indices and shares of the ``top_n`` largest positive evidence values, highest first
    (ties: lower index first). ``evidence`` has shape ``(d,)``; a share is ``e_f / sum(e)``
    over the positive values. Empty when there is no positive evidence."""
    values = evidence.tolist()
    total = 0.0
    for v in values:
        if v > 0.0:
            total += v
    if not total > 0.0:  # also NaN
        return []
    # Same operations, in the same order, as the kernel's signals key.
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    inv = 1.0 / total
    out = []
    for i in order[:top_n]:
        v = values[i]
        if not v > 0.0:
            break
        out.append((i, min(v * inv, 1.0)))
    return out


class SignalsHeader:
    """``X-Intent-Signals`` values for one model, looked up by the kernel's signals key (see
    ``classifiers.kernels.score_one``) so a request formats nothing once a combination has
    been seen; a key of -1 (more signals than a key holds) formats from the evidence."""

    __slots__ = ("names", "top_n", "capacity", "_cache")

    def __init__(self, names: tuple[str, ...], top_n: int, capacity: int = 8192) -> None:
        self.names = names
        self.top_n = top_n
        self.capacity = capacity
        self._cache: dict[int, bytes] = {}

    def __call__(self, key: int, evidence: npt.NDArray[np.float64]) -> bytes:
        value = self._cache.get(key)
        if value is not None:
            return value
        if key < 0:
            return signals_value(evidence, self.names, self.top_n)
        value = self.decode(key)
        if len(self._cache) >= self.capacity:
            self._cache.clear()
        self._cache[key] = value
        return value

    def decode(self, key: int) -> bytes:
        """The header text a key stands for."""
        parts = []
        while key:
            entry = key & 0x1FFF
            key >>= 13
            parts.append(f"{self.names[(entry & 0x3F) - 1]}={_SHARE[entry >> 6]}")
        return ", ".join(parts).encode()


def signals_value(
    evidence: npt.NDArray[np.float64], names: tuple[str, ...], top_n: int
) -> bytes:
    """``b"comparisons=0.62, price_sorts=0.21, product_views=0.09"`` (shares rounded down to
    two decimals; a signal whose share would print as ``0.00`` is left out)."""
    return ", ".join(
        [f"{names[i]}={_SHARE[int(share * 100.0)]}" for i, share in top_signals(evidence, top_n)
         if share >= 0.01]
    ).encode()



def warm() -> None:
    """Nothing to compile here any more: the top evidence shares are chosen inside the scoring
    kernel (``classifiers.kernels.score_one``), which the model's ``Scorer.warm`` compiles."""
