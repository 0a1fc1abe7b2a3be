"""Tests for classifiers/evaluate.py: purchase rate and lift by class, class-mix stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classifiers.artifact import Model, load_model, seal
from classifiers.evaluate import evaluate, format_table, stability
from classifiers.kernels import Scorer
from tests.factories import artifact_content


@pytest.fixture
def model() -> Model:
    return load_model(seal(artifact_content(
        [[0.0, 0.0], [10.0, 0.0]], slugs=("browsers", "buyers"), radius=2.0)))


def _sessions() -> tuple[np.ndarray, np.ndarray]:
    # 60 near "browsers" (6 buy), 40 near "buyers" (20 buy), in an interleaved order.
    X = np.array([[0.5, 0.0]] * 60 + [[9.5, 0.0]] * 40)
    bought = np.array([i < 6 for i in range(60)] + [i < 20 for i in range(40)])
    order = np.random.default_rng(0).permutation(100)
    return X[order], bought[order]


def test_purchase_rate_and_lift_by_class(model: Model) -> None:
    X, bought = _sessions()
    ev = evaluate(model, X, bought)
    assert (ev.sessions, ev.purchases, ev.base_rate) == (100, 26, 0.26)
    browsers, buyers, undetermined = ev.classes
    assert (browsers.slug, browsers.sessions, browsers.purchases) == ("browsers", 60, 6)
    assert browsers.share == 0.6 and browsers.purchase_rate == pytest.approx(0.1)
    assert browsers.lift == pytest.approx(0.1 / 0.26)
    assert buyers.purchase_rate == 0.5 and buyers.lift == pytest.approx(0.5 / 0.26)
    assert undetermined.sessions == 0
    assert ev.best_lift == pytest.approx(0.5 / 0.26)
    assert ev.model_version == model.version


def test_sessions_beyond_radius_or_with_few_events_are_undetermined(model: Model) -> None:
    X = np.array([[0.0, 0.0], [0.0, 30.0], [10.0, 0.0], [10.0, 0.1]])
    ev = evaluate(model, X, [True, True, False, False], n_events=[5, 5, 1, 5], min_events=3)
    assert [c.sessions for c in ev.classes] == [1, 1, 2]
    assert ev.classes[2].slug == "undetermined" and ev.classes[2].purchases == 1
    # The radius is what leaves (0, 30) undetermined: "browsers" is its nearest class.
    assert Scorer(model).score_batch(X)[0].tolist() == [0, 0, 1, 1]


def test_stability_is_zero_for_the_same_mix_and_grows_when_it_shifts() -> None:
    same = stability(np.array([0, 1, 0, 1, 0, 1, 0, 1]), ("a", "b"))
    assert same.psi == pytest.approx(0.0) and same.total_variation == 0.0
    shifted = stability(np.array([0, 0, 0, 1, 1, 1, 1, 1]), ("a", "b"))
    assert shifted.first_shares == {"undetermined": 0.0, "a": 0.75, "b": 0.25}
    assert shifted.total_variation == pytest.approx(0.75)
    # first (0, .75, .25) vs second (0, 0, 1); an empty share is floored at 1e-4
    expected = (0.75 - 1e-4) * math.log(0.75 / 1e-4) + (0.25 - 1.0) * math.log(0.25 / 1.0)
    assert shifted.psi == pytest.approx(expected)


def test_no_purchases_gives_nan_lift_and_table_says_n_a(model: Model) -> None:
    X, _ = _sessions()
    ev = evaluate(model, X, np.zeros(100, dtype=bool))
    assert math.isnan(ev.classes[0].lift) and math.isnan(ev.best_lift)
    assert "n/a" in format_table(ev)


def test_table_lists_every_class_with_rate_and_lift(model: Model) -> None:
    X, bought = _sessions()
    table = format_table(evaluate(model, X, bought))
    lines = table.splitlines()
    assert "100 sessions, 26 with a purchase (base rate 26.00%)" in lines[0]
    assert lines[2].split() == ["browsers", "60", "60.0%", "6", "10.00%", "0.38"]
    assert lines[3].split() == ["buyers", "40", "40.0%", "20", "50.00%", "1.92"]
    assert lines[4].split()[0] == "undetermined"
    assert lines[-2].startswith("class mix stability")
    assert lines[-1] == "requirement violations in the scorer's output: 0"


@pytest.mark.parametrize(
    ("X", "bought", "message"),
    [
        (np.zeros((3, 3)), [True] * 3, r"shape \(n, 2\)"),
        (np.zeros((3, 2)), [True] * 2, r"purchased must have shape \(3,\)"),
        (np.zeros((0, 2)), [], "no sessions"),
    ],
)
def test_bad_shapes_are_refused(model: Model, X: np.ndarray, bought: list[bool],
                                message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(model, X, bought)


def _cart_model() -> Model:
    """browsers at the origin; "cart-builder" (requires cart_adds >= 0.5) at product_views 2."""
    content = artifact_content([[0.0, 0.0], [2.0, 0.0]], names=("product_views", "cart_adds"),
                               slugs=("browsers", "cart-builder"), radius=50.0)
    content["classes"][1]["requires"] = [{"signal": "cart_adds", "min": 0.5}]
    return load_model(seal(content))


def test_requirements_are_enforced_and_violations_counted() -> None:
    from classifiers.evaluate import allowed, enforce_requirements

    model = _cart_model()
    # Nearest to cart-builder but no cart add (first two rows), then with carts (log1p(1)).
    X = np.array([[1.9, 0.0], [2.2, 0.0], [2.0, np.log1p(1.0)], [0.1, np.log1p(2.0)]])
    ok = allowed(model, X)
    assert ok.tolist() == [[True, False], [True, False], [True, True], [True, True]]
    labels, violations = enforce_requirements(model, X, np.array([1, 1, 1, 0]))
    assert violations == 2 and labels.tolist() == [0, 0, 1, 0]
    ev = evaluate(model, X, np.array([False, False, True, False]))
    counts = {c.slug: c.sessions for c in ev.classes}
    assert counts["cart-builder"] == 1 and counts["browsers"] == 3
    assert "requirement violations in the scorer's output" in format_table(ev)


def test_requirements_name_known_signals_and_a_positive_minimum() -> None:
    from classifiers.errors import ArtifactError

    content = artifact_content([[0.0, 0.0], [2.0, 0.0]], names=("product_views", "cart_adds"))
    content["classes"][1]["requires"] = [{"signal": "wishlist_adds", "min": 0.5}]
    with pytest.raises(ArtifactError, match="requirement names unknown signal 'wishlist_adds'"):
        seal(content)
    content["classes"][1]["requires"] = [{"signal": "cart_adds", "min": 0.0}]
    with pytest.raises(ArtifactError, match="greater than 0"):
        seal(content)
