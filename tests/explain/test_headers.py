from __future__ import annotations

import numpy as np

from explain.headers import confidence_value, signals_value, top_signals


def test_confidence_value_two_decimals_clamped() -> None:
    assert confidence_value(0.834) == b"0.83"
    assert confidence_value(0.835) == b"0.84"
    assert confidence_value(1.7) == b"1.00"
    assert confidence_value(-1.0) == b"0.00"
    assert confidence_value(float("nan")) == b"0.00"


def test_top_signals_are_positive_shares_of_the_margin_highest_first() -> None:
    contrib = np.array([0.5, -0.2, 1.5, 0.0, 0.2])
    margin = float(contrib.sum())  # 2.0: contributions add up to the margin
    assert top_signals(contrib, margin, 3) == [(2, 0.75), (0, 0.25), (4, 0.1)]
    assert top_signals(contrib, margin, 1) == [(2, 0.75)]
    assert top_signals(contrib, 0.0, 3) == []


def test_signals_value_formats_the_header() -> None:
    contrib = np.array([0.92, 0.0, 0.3, -0.22])
    names = ("comparisons", "searches", "product_views", "cart_adds")
    assert signals_value(contrib, 1.0, names, 3) == b"comparisons=0.92, product_views=0.30"


def test_signals_value_chooses_as_the_reference_ordering_does() -> None:
    # The compiled selection against top_signals (a stable descending sort), ties included.
    rng = np.random.default_rng(3)
    names = tuple(f"f{i}" for i in range(16))
    for _ in range(500):
        contrib = np.round(rng.normal(size=16), int(rng.integers(0, 3)))
        margin = float(abs(rng.normal()) + 0.01)
        top_n = int(rng.integers(1, 6))
        expected = ", ".join(f"{names[i]}={s:.2f}" for i, s in
                             top_signals(contrib, margin, top_n)).encode()
        assert signals_value(contrib, margin, names, top_n) == expected
