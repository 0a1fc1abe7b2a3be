"""Tests for classifiers/naming.py: vocabulary names, uniqueness, renaming, rules, cards."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.artifact import load_model, seal
from classifiers.naming import (
    COMBINATIONS,
    SIGNALS,
    ClassName,
    apply_labels,
    characteristics,
    name_classes,
    relabel,
    rules,
)
from tests.classifiers.test_fit import NAMES
from tests.factories import artifact_content


def profile(**z: float) -> list[float]:
    """A centroid in standard units: 0 (the population) except the given signals."""
    return [z.get(n, 0.0) for n in NAMES]


def slugs_for(*rows: list[float], names: tuple[str, ...] = NAMES) -> list[str]:
    return [n.slug for n in name_classes(np.array(rows), names)]


def test_names_come_from_distinguishing_signals_in_a_merchandisers_words() -> None:
    assert slugs_for(
        profile(comparisons=2.5, product_views=0.8),
        profile(price_sorts=1.8, deal_views=0.9, cart_adds=-0.7),
        profile(session_minutes=1.5, dwell_per_product_s=1.2, product_views=1.4),
        profile(**{n: -0.6 for n in NAMES}),
        profile(searches=2.0),
        profile(review_views=1.5),
        profile(cart_adds=1.6, product_views=-0.6, session_minutes=-0.8),
    ) == ["comparison-shopper", "price-sensitive-researcher", "deep-researcher", "quick-visitor",
          "search-led-browser", "review-reader", "quick-cart-adder"]


def test_description_lists_the_distinguishing_signals_in_words() -> None:
    [deep, _] = name_classes(np.array([
        profile(session_minutes=1.5, product_views=1.4, dwell_per_product_s=1.2),
        profile(session_minutes=-0.5)]), NAMES)
    assert deep.display_name == "Deep researcher"
    assert deep.description == ("Long visits, many product pages and long time on each product "
                                 "page, compared with the average session.")
    assert deep.suggested_use


def test_names_are_human_and_unique_within_a_model() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        k = int(rng.integers(2, 12))
        names = name_classes(rng.normal(0, 1.2, size=(k, len(NAMES))), NAMES)
        slugs = [n.slug for n in names]
        assert len(set(slugs)) == k
        for n in names:
            assert not n.slug.startswith(("more-", "fewer-")), n.slug
            words = n.display_name.lower().split()
            assert not {"more", "fewer", "less"} & set(words), n.display_name
            assert n.display_name[0].isupper() and "_" not in n.display_name
            assert n.description.endswith(".") and n.suggested_use


def test_names_rest_on_requirements_the_session_must_show() -> None:
    names = name_classes(np.array([profile(cart_adds=1.8, product_views=-0.5),
                                   profile(comparisons=2.0),
                                   profile(session_minutes=1.5),
                                   profile(**{n: -0.6 for n in NAMES})]), NAMES,
                         population_raw={"session_minutes": 3.2})
    by_slug = {n.slug: n for n in names}
    assert by_slug["quick-cart-adder"].requires == (("cart_adds", 0.5),)
    assert by_slug["comparison-shopper"].requires == (("comparisons", 0.5),)
    # "long visits" means longer than the average session
    assert by_slug["long-visit-browser"].requires == (("session_minutes", 3.2),)
    assert by_slug["quick-visitor"].requires == ()


def test_no_name_or_description_rests_on_a_signal_the_data_lacks() -> None:
    present = [n for n in NAMES if n not in ("cart_adds", "checkout_steps", "wishlist_adds")]
    rows = np.array([profile(product_views=1.5, cart_adds=-0.9),
                     profile(cart_adds=2.0, wishlist_adds=1.5),
                     profile(**{n: -0.6 for n in NAMES})])
    for name in name_classes(rows, NAMES, present=present):
        text = f"{name.slug} {name.display_name} {name.description}".lower()
        assert "cart" not in text and "wishlist" not in text and "checkout" not in text
        assert all(sig in present for sig, _ in name.requires)


def test_a_class_no_name_fits_gets_its_top_signal_in_words_not_a_comparative() -> None:
    names = name_classes(np.array([profile(session_minutes=-1.5, product_views=0.3),
                                   profile(session_minutes=-1.2, revisit_rate=0.4),
                                   profile(session_minutes=2.0)]), NAMES)
    assert [n.display_name for n in names][:2] == [
        "Quick visitor", "Quick visitor (returns to products already seen)"]
    assert names[1].slug == "quick-visitor-returns-to-products-already-seen"


def test_naming_degrades_when_signals_are_absent() -> None:
    names = ("product_views", "searches", "cart_adds")
    assert slugs_for([0.2, 2.0, -0.3], [-0.5, -0.5, -0.5], [0.1, -0.4, 1.9], names=names) == [
        "search-led-browser", "quick-visitor", "quick-cart-adder"]


def test_every_combination_slug_is_distinct_and_valid() -> None:
    slugs = [n.slug for n in COMBINATIONS] + [n.name.lower().replace(" ", "-")
                                              for n in SIGNALS.values()]
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


def test_relabel_renames_the_cards_of_an_artifact_and_keeps_what_they_rest_on() -> None:
    content = artifact_content(slugs=("a", "b", "wishlist-saver"))
    content["classes"][2]["requires"] = [{"signal": "cart_adds", "min": 0.5}]
    art = load_model(seal(content)).artifact
    assert relabel(art, None) is art
    out = relabel(art, {"wishlist-saver": {"slug": "savers", "suggested_use": "Remind."}})
    card = out.classes[2]
    assert (card.slug, card.display_name, card.suggested_use) == ("savers", "Class 2", "Remind.")
    assert card.requires == art.classes[2].requires and out.classes[:2] == art.classes[:2]
    with pytest.raises(ValueError, match="used by more than one class"):
        relabel(art, {"a": {"slug": "wishlist-saver"}})


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


def test_some_class_always_claims_nothing() -> None:
    """Every class named for a behaviour would leave a session that shows none without a
    class: the one closest to the average session takes a name that requires nothing."""
    names = name_classes(np.array([profile(product_views=0.9, cart_adds=-0.2),
                                   profile(category_views=2.5, product_views=-1.0)]), NAMES)
    assert [n.slug for n in names] == ["general-browser", "category-browser"]
    assert names[0].requires == () and names[1].requires == (("category_views", 0.5),)
