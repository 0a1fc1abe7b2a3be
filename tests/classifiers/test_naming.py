"""Tests for classifiers/naming.py: vocabulary names, uniqueness, renaming, rules, cards."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.naming import (
    VOCABULARY,
    ClassName,
    apply_labels,
    characteristics,
    name_classes,
    rules,
)
from tests.classifiers.test_fit import NAMES


def profile(**z: float) -> list[float]:
    """A centroid in standard units: 0 (the population) except the given signals."""
    return [z.get(n, 0.0) for n in NAMES]


def slugs_for(*rows: list[float], names: tuple[str, ...] = NAMES) -> list[str]:
    return [n.slug for n in name_classes(np.array(rows), names)]


def test_vocabulary_names_classes_from_their_distinguishing_signals() -> None:
    assert slugs_for(
        profile(comparisons=2.5, product_views=0.8),
        profile(price_sorts=1.8, deal_views=0.9, cart_adds=-0.7),
        profile(cart_adds=1.6, checkout_steps=1.2, product_views=-0.6, session_minutes=-0.8),
        profile(**{n: -0.6 for n in NAMES}),
        profile(searches=2.0),
        profile(review_views=1.5),
    ) == ["comparison-shopper", "price-sensitive-researcher", "decisive-buyer", "casual-browser",
          "search-led-browser", "review-reader"]


def test_high_intent_explorer_needs_views_and_cart() -> None:
    assert slugs_for(profile(product_views=1.5, cart_adds=1.2, checkout_steps=0.6),
                     profile(product_views=-0.5)) == ["high-intent-explorer", "casual-browser"]


def test_names_are_unique_within_a_model() -> None:
    slugs = slugs_for(profile(comparisons=3.0), profile(comparisons=1.0), profile(comparisons=0.7))
    assert slugs[0] == "comparison-shopper"
    assert len(set(slugs)) == 3
    assert "comparison-shopper" not in slugs[1:]


def test_stronger_claim_wins_the_shared_name() -> None:
    slugs = slugs_for(profile(deal_views=0.8), profile(deal_views=2.5, cart_adds=0.5))
    assert slugs[1] in ("deal-hunter", "price-sensitive-researcher")
    assert slugs[0] != slugs[1]


def test_naming_degrades_when_signals_are_absent() -> None:
    names = ("product_views", "searches", "cart_adds")
    assert slugs_for([0.2, 2.0, -0.3], [-0.5, -0.5, -0.5], [0.1, -0.4, 1.9], names=names) == [
        "search-led-browser", "casual-browser", "cart-abandoner"]


def test_profile_no_entry_fits_is_named_after_its_top_signal() -> None:
    [name] = name_classes(np.array([[0.1, 2.2]]), ("product_views", "loyalty_points"))
    assert name.slug == "more-loyalty-points"
    assert name.display_name == "More loyalty points"


def test_every_vocabulary_slug_is_distinct_and_valid() -> None:
    slugs = [n.slug for n in VOCABULARY]
    assert len(slugs) == len(set(slugs))
    assert all(s == s.lower() and " " not in s for s in slugs)


def _names() -> list[ClassName]:
    return [ClassName("comparison-shopper", "Comparison shopper", "d", "u"),
            ClassName("deal-hunter", "Deal hunter", "d", "u")]


def test_labels_rename_slug_display_name_and_description() -> None:
    out = apply_labels(_names(), {"deal-hunter": {"slug": "bargain-fans",
                                                  "display_name": "Bargain fans",
                                                  "description": "Love a sale."}})
    assert out[1] == ClassName("bargain-fans", "Bargain fans", "Love a sale.", "u")
    assert out[0] == _names()[0]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"nope": {"display_name": "x"}}, "unknown class 'nope'"),
        ({"deal-hunter": {"colour": "red"}}, "unknown fields colour"),
        ({"deal-hunter": {"slug": "comparison-shopper"}}, "used by more than one class"),
        ({"deal-hunter": {"slug": "Bargain Fans"}}, "must be lowercase"),
        ({"deal-hunter": {"slug": "undetermined"}}, "must be lowercase"),
        ({"deal-hunter": {"display_name": " "}}, "non-empty string"),
    ],
)
def test_bad_labels_are_refused(labels: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_labels(_names(), labels)


def test_rules_recover_a_readable_filter_with_its_fidelity() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    comparisons = rng.integers(0, 7, size=n).astype(float)
    cart_adds = rng.integers(0, 3, size=n).astype(float)
    views = rng.uniform(0, 20, size=n)
    X = np.column_stack([views, comparisons, cart_adds])
    labels = ((comparisons >= 3) & (cart_adds == 0)).astype(np.int64)
    found = rules(X, labels, 2, ("product_views", "comparisons", "cart_adds"))
    best = found[1][0]
    assert best["text"] == "comparisons ≥ 3 and cart_adds = 0"
    assert best["fidelity"] == 1.0 and best["precision"] == 1.0 and best["recall"] == 1.0
    assert found[0]  # the complement gets rules too


def test_rules_on_continuous_values_print_thresholds() -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 10, size=(1000, 1))
    labels = (X[:, 0] > 6.25).astype(np.int64)
    [_, [rule]] = rules(X, labels, 2, ("dwell_per_product_s",), max_depth=1)
    assert rule["text"].startswith("dwell_per_product_s > 6.2")
    assert rule["fidelity"] == 1.0


def test_characteristics_rank_by_distance_from_population() -> None:
    z = np.array([[0.1, -2.0, 1.0], [0.0, 0.5, 0.5]])
    raw = np.array([[1.0, 0.2, 5.0], [1.0, 3.0, 4.0]])
    pop = np.array([1.0, 2.0, 4.5])
    out = characteristics(z, raw, pop, ("product_views", "comparisons", "cart_adds"), top=2)
    assert [c["signal"] for c in out[0]] == ["comparisons", "cart_adds"]
    assert out[0][0] == {"signal": "comparisons", "importance": round(2.0 / 3.1, 4), "value": 0.2,
                         "population_value": 2.0, "z": -2.0}
    assert out[1][0]["importance"] == 0.5
