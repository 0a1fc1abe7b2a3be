"""Tests for classifiers/archetypes.py: rule-based classes for behaviours no fitted class rests
on, placed by rule and, in a store's own fit, only for behaviours its sessions show."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from classifiers import archetypes
from classifiers.archetypes import (
    ARCHETYPE_LEVEL,
    ARCHETYPE_RADIUS,
    ARCHETYPE_REQUIRES,
    add_shown,
    archetype_centroids,
    shown,
    unclaimed,
)
from classifiers.artifact import Artifact, load_model, seal
from classifiers.kernels import Scorer
from tests.factories import artifact_content

NAMES = ("product_views", "wishlist_adds", "comparisons", "cart_adds", "deal_views")
LOG1P_HALF = math.log1p(ARCHETYPE_REQUIRES)


def test_archetype_centroids_sit_at_the_average_session_plus_its_signal() -> None:
    mean, scale = np.array([1.0, 0.0, 0.2]), np.array([0.8, 0.4, 0.5])
    names = ("product_views", "comparisons", "revisit_rate")
    cents, z = archetype_centroids(mean, scale, names, ("log1p", "log1p", "identity"),
                                   ["comparisons", "revisit_rate"], [ARCHETYPE_LEVEL, 0.25])
    assert cents.shape == (2, 3)
    assert z[0] == pytest.approx(math.log1p(ARCHETYPE_LEVEL) / 0.4)
    assert z[1] == pytest.approx((0.25 - 0.2) / 0.5)  # a rate: no transform
    assert cents[0].tolist() == [0.0, z[0], 0.0] and cents[1].tolist() == [0.0, 0.0, z[1]]


def _fitted(**kw: Any) -> dict[str, Any]:
    """Two fitted classes, radius 1: more product views than average, and cart adds (which it
    rests on). Rare signals have a small scale, as in a real fit."""
    content = artifact_content([[1.0, 0, 0, 0, 0], [-1.0, 0, 0, 2.0, 0]], names=NAMES,
                               mean=[0.9, 0.02, 0.0, 0.1, 0.01],
                               scale=[0.3, 0.15, 1.0, 0.25, 0.1], radius=1.0, **kw)
    content["classes"][1]["requires"] = [{"signal": "cart_adds", "min": 0.5}]
    return content


def _states(n: int = 200, wishlist: int = 12, deals: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two states per session (transformed): every session views products, one in three adds
    to the cart, the first ``wishlist`` save a product in their second state, ``deals``
    others view a deal page; nobody compares."""
    X = np.zeros((2 * n, len(NAMES)))
    X[:, 0] = math.log1p(1.0)
    X[1::2, 0] = math.log1p(2.0)
    X[1::6, 3] = math.log1p(1.0)
    X[1:2 * wishlist:2, 1] = math.log1p(1.0)
    X[2 * wishlist + 1:2 * (wishlist + deals):2, 4] = math.log1p(1.0)
    return X, np.repeat(np.arange(n), 2)


def _artifact(content: dict[str, Any]) -> Artifact:
    return load_model(seal(content)).artifact


def test_unclaimed_are_the_table_signals_no_class_rests_on() -> None:
    art = _artifact(_fitted())
    assert unclaimed(art) == ["comparisons", "deal_views", "wishlist_adds"]
    assert "revisit_rate" not in unclaimed(art, archetypes.OWN_FIT_ARCHETYPES)  # not a feature


def test_shown_counts_the_sessions_that_reach_the_minimum_in_any_state() -> None:
    X, session = _states()
    counts = shown(X, session, NAMES, ["log1p"] * 5,
                   {"wishlist_adds": 0.5, "comparisons": 0.5, "deal_views": 0.5,
                    "product_views": 1.5})
    assert counts == {"wishlist_adds": (12, 0.06), "comparisons": (0, 0.0),
                      "deal_views": (2, 0.01), "product_views": (200, 1.0)}


def test_add_shown_names_a_shown_behaviour_no_fitted_class_rests_on() -> None:
    X, session = _states()
    art = add_shown(_artifact(_fitted()), X, session, population={"wishlist_adds": 0.03})
    model = load_model(seal(art.model_dump(mode="json")))
    # Comparisons: nobody. Deal views: 2 sessions, fewer than MIN_SESSIONS. Cart adds: a
    # fitted class rests on them.
    assert model.slugs == ("class-0", "class-1", "wishlist-saver")
    assert model.requirements[2] == (("wishlist_adds", ARCHETYPE_REQUIRES),)
    card = art.classes[2]
    assert card.radius == ARCHETYPE_RADIUS
    assert "Rule-based archetype: no fitted class rests on this signal, though 6.0% of the " \
           "training sessions show it" in card.description
    assert card.characteristics[0].population_value == 0.03
    assert "wishlist_adds (6.0% of sessions)" in art.report.notes[-1]
    # Sized like a fitted class: the sessions' states it is given, each session weighted once
    # (the twelve savers' second states: 6 sessions' worth of 200).
    assert (card.size, card.percentage) == (6, 3.0)
    # A session that saved a product lies beyond both fitted classes' radius: the fitted model
    # alone leaves it undetermined, the archetype names it.
    saver = np.ascontiguousarray(X[1])
    assert Scorer(load_model(seal(_fitted()))).label(3, saver)[0] == -1
    assert model.slugs[Scorer(model).label(3, saver)[0]] == "wishlist-saver"


@pytest.mark.parametrize("kw", [{"min_share": 0.07}, {"min_sessions": 13}])
def test_add_shown_adds_nothing_below_the_minimum(kw: dict[str, Any]) -> None:
    X, session = _states()
    art = _artifact(_fitted())
    assert add_shown(art, X, session, **kw) is art


def test_add_shown_never_names_a_signal_the_data_lacks() -> None:
    content = _fitted()
    content["report"]["missing_signals"] = ["wishlist_adds"]
    X, session = _states()
    X[:, 2] = 5.0  # even a column reporting constant comparisons is not "shown"
    content["report"]["missing_signals"].append("comparisons")
    art = _artifact(content)
    assert add_shown(art, X, session) is art


def test_add_shown_renames_an_archetype_whose_slug_a_fitted_class_has() -> None:
    X, session = _states()
    art = add_shown(_artifact(_fitted(slugs=("wishlist-saver", "b"))), X, session)
    card = art.classes[2]
    assert card.slug == "wishlist-saver-wishlist-adds"
    assert card.display_name == "Wishlist saver (wishlist adds)"
    assert card.requires[0].signal == "wishlist_adds"


def test_add_shown_names_returning_viewers_in_an_own_fit() -> None:
    content = _fitted()
    content["features"].append({"name": "revisit_rate", "transform": "identity"})
    content["scaler"] = {"mean": [0.0] * 6, "scale": [1.0] * 5 + [0.05]}
    content["centroids"] = [row + [0.0] for row in content["centroids"]]
    X, session = _states(wishlist=0)
    X = np.column_stack([X, np.zeros(len(X))])
    X[3:60:4, 5] = 0.5  # 15 sessions revisit a product in their second state
    art = add_shown(_artifact(content), X, session)
    card = art.classes[2]
    assert card.slug == "returning-viewer" and card.requires[0].min == 0.01
    assert card.characteristics[0].z == pytest.approx(0.25 / 0.05)
    assert "revisit_rate set to 0.25 of its product views returning" in card.description
