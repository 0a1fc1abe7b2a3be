from __future__ import annotations

import numpy as np
import pytest

from signals.events import EventKind as K
from signals.features import DEFAULT_FEATURES, FeatureExtractor
from signals.replay import group, replay
from tests.factories import event

T = 1_700_000_000.0


def _ex() -> FeatureExtractor:
    return FeatureExtractor(*zip(*DEFAULT_FEATURES, strict=True))


def test_replay_one_row_per_session_in_key_order() -> None:
    recs = [("b", event(K.PRODUCT_VIEW, T + 1, "x")), ("a", event(K.SEARCH, T)),
            ("b", event(K.PRODUCT_VIEW, T, "y"))]
    rep = replay(group(recs), _ex())
    assert rep.keys == ["a", "b"] and rep.X.shape == (2, 16)
    assert rep.n_events.tolist() == [1, 2]
    assert rep.X[1, 12] == pytest.approx(np.log1p(2))  # two distinct products in session b


def test_replay_before_outcome_never_leaks_the_label() -> None:
    buyer = [event(K.PRODUCT_VIEW, T, "a"), event(K.CART_ADD, T + 10, "a"),
             event(K.CHECKOUT_STEP, T + 20), event(K.PURCHASE, T + 30)]
    instant = [event(K.PURCHASE, T)]
    browser = [event(K.PRODUCT_VIEW, T, "a")]
    rep = replay({"buyer": buyer, "instant": instant, "browser": browser}, _ex(),
                 before_outcome=True)
    assert rep.keys == ["browser", "buyer"] and rep.skipped_empty == 1
    assert rep.purchased.tolist() == [False, True]
    assert rep.n_events.tolist() == [1, 2]  # the checkout step and purchase are cut off
    assert rep.X[1, 6] == 0.0  # checkout_steps never seen by the features
