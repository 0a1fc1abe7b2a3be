from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from explain.headers import confidence_value, signals_value, top_signals


def test_confidence_value_two_decimals_clamped() -> None:
    assert confidence_value(0.834) == b"0.83"
    assert confidence_value(0.835) == b"0.84"
    assert confidence_value(1.7) == b"1.00"
    assert confidence_value(-1.0) == b"0.00"
    assert confidence_value(float("nan")) == b"0.00"


def test_top_signals_are_shares_of_the_positive_evidence_highest_first() -> None:
    evidence = np.array([0.5, 0.0, 1.5, 0.0, 0.2, 0.3])  # positive sum 2.5
    listed = top_signals(evidence, 3)
    assert [i for i, _ in listed] == [2, 0, 5]
    np.testing.assert_allclose([s for _, s in listed], [0.6, 0.2, 0.12])
    assert [i for i, _ in top_signals(evidence, 1)] == [2]
    assert top_signals(np.zeros(4), 3) == []


def test_signals_value_formats_the_header() -> None:
    evidence = np.array([0.92, 0.0, 0.3, 0.0])
    names = ("comparisons", "searches", "product_views", "cart_adds")
    # 0.92 / 1.22 = 0.754..., 0.3 / 1.22 = 0.245... (rounded down)
    assert signals_value(evidence, names, 3) == b"comparisons=0.75, product_views=0.24"
    assert signals_value(np.zeros(4), names, 3) == b""


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(1, 20),
              elements=st.one_of(st.just(0.0), st.floats(0.0, 1e6, allow_subnormal=False))),
       st.integers(1, 16))
def test_header_shares_are_in_0_1_add_up_to_at_most_1_and_never_name_a_zero(
    evidence: np.ndarray, top_n: int
) -> None:
    names = tuple(f"s{i}" for i in range(len(evidence)))
    listed = top_signals(evidence, top_n)
    assert all(evidence[i] > 0.0 and 0.0 <= share <= 1.0 for i, share in listed)
    assert sum(share for _, share in listed) <= 1.0 + 1e-9
    text = signals_value(evidence, names, top_n).decode()
    if text:
        parts = [p.split("=") for p in text.split(", ")]
        assert all(evidence[int(n[1:])] > 0.0 for n, _ in parts)
        assert sum(float(v) for _, v in parts) <= 1.0 + 1e-9
