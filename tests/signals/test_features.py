from __future__ import annotations

import math

import numpy as np
import pytest

from signals.events import EventKind as K
from signals.features import DEFAULT_FEATURES, FEATURE_NAMES, FeatureExtractor, raw_values
from tests.factories import event, make_session

T = 1_700_000_000.0


def test_features_names_and_order_are_the_contract() -> None:
    assert FEATURE_NAMES[:4] == ("product_views", "category_views", "searches", "comparisons")
    assert len(FEATURE_NAMES) == 16 and FEATURE_NAMES[-1] == "revisit_rate"
    assert dict(DEFAULT_FEATURES)["revisit_rate"] == "identity"


def test_features_vector_matches_hand_computed_values() -> None:
    s = make_session(
        event(K.PRODUCT_VIEW, T, "a", "phones"), event(K.PRODUCT_VIEW, T + 30, "b", "phones"),
        event(K.COMPARE, T + 60, value=2), event(K.PRODUCT_VIEW, T + 90, "a", "audio"),
        half_life=600.0,
    )
    ex = FeatureExtractor(*zip(*DEFAULT_FEATURES, strict=True))
    out = np.zeros(16)
    now = T + 690.0  # one half-life after the last event
    ex.extract(s, now, out)
    f = 2.0 ** (-(now - T - 90.0) / 600.0)
    pv = (2.0 ** (-90 / 600) + 2.0 ** (-60 / 600) + 1.0) * f
    assert out[0] == pytest.approx(math.log1p(pv))
    fc = 2.0 ** (-(now - T - 60.0) / 600.0)  # the comparison, 630 s ago
    assert out[3] == pytest.approx(math.log1p(fc))
    # Dwell on product pages: a (30 s until b) and b (30 s until the compare page).
    assert out[11] == pytest.approx(math.log1p(30.0))
    assert out[12] == pytest.approx(math.log1p(2))  # distinct products a, b
    assert out[13] == pytest.approx(math.log1p(2))  # phones, audio
    assert out[14] == pytest.approx(math.log1p(11.5))  # 690 s since the first event
    assert out[15] == pytest.approx(1 / 3)  # one of three product views was a revisit
    assert raw_values(s, now)["comparisons"] == pytest.approx(fc)


def test_features_extract_fills_the_buffer_with_transforms() -> None:
    s = make_session(event(K.SEARCH, T), half_life=60.0)
    ex = FeatureExtractor(("searches", "session_minutes"), ("sqrt", "identity"))
    out = np.zeros(2)
    ex.extract(s, T + 120.0, out)
    assert out.tolist() == [pytest.approx(0.5), pytest.approx(2.0)]


@pytest.mark.parametrize(("names", "transforms", "needle"), [
    (("nope",), ("log1p",), "unknown feature 'nope'"),
    (("searches",), ("cube",), "unknown transform 'cube'"),
    (("searches",), (), "1 feature names but 0 transforms"),
])
def test_features_refuse_unknown_names_and_transforms(names: tuple, transforms: tuple,
                                                      needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        FeatureExtractor(names, transforms)


@pytest.mark.parametrize("transform", ["identity", "log1p", "sqrt"])
def test_features_compiled_extraction_equals_the_python_reference(transform: str) -> None:
    rng = np.random.default_rng(7)
    kinds = [K.PRODUCT_VIEW, K.CATEGORY_VIEW, K.SEARCH, K.COMPARE, K.CART_ADD, K.REVIEW_VIEW]
    names = FEATURE_NAMES
    ex = FeatureExtractor(names, (transform,) * len(names))
    for trial in range(50):
        t = T
        events = []
        for _ in range(int(rng.integers(0, 25))):
            t += float(rng.exponential(40.0))
            events.append(event(kinds[int(rng.integers(len(kinds)))], t,
                                f"p{int(rng.integers(6))}", f"c{int(rng.integers(3))}"))
        s = make_session(*events, half_life=float(rng.uniform(30, 3000)))
        now = t + float(rng.uniform(-5, 2000))
        fast, slow = np.zeros(len(names)), np.zeros(len(names))
        ex.extract(s, now, fast)
        ex.extract_py(s, now, slow)
        assert fast.tolist() == slow.tolist(), trial  # bit for bit, not approximately
