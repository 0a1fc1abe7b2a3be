"""Tests for classifiers/bundled.py: the bundled model's scale floor, radii and archetypes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from classifiers import bundled
from classifiers.archetypes import ARCHETYPE_LEVEL, ARCHETYPE_REQUIRES
from classifiers.artifact import Artifact, load_model, seal
from tests.factories import artifact_content

NAMES = ("product_views", "comparisons", "cart_adds")


def _artifact(**kw: Any) -> Artifact:
    return load_model(seal(artifact_content(names=NAMES, **kw))).artifact


def test_floored_scales_raise_small_scales_and_keep_centroids_on_the_same_raw_values() -> None:
    scale = np.array([0.1, 2.0, 0.5])
    centroids = np.array([[1.0, 1.0, -2.0], [-3.0, 0.5, 0.0]])
    new, moved = bundled.floored_scales(scale, centroids, floor=0.5)
    assert new.tolist() == [0.5, 2.0, 0.5]
    # Hand-worked: 1.0 standard unit of 0.1 is 0.2 units of 0.5.
    assert moved[0, 0] == pytest.approx(0.2) and moved[1, 0] == pytest.approx(-0.6)
    np.testing.assert_allclose(moved * new, centroids * scale)


def test_measured_radii_take_the_quantile_and_a_floor_of_the_median() -> None:
    centroids = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    # Class 0: members at distance 1..100 (quantile 0.99 of them); class 1: every member at
    # distance 0.1; class 2: no member (keeps its previous radius 7.0).
    d0 = np.arange(1.0, 101.0)
    Z = np.vstack([np.column_stack([d0, np.zeros(100)]),
                   np.tile([10.1, 0.0], (50, 1))])
    labels = np.array([0] * 100 + [1] * 50, dtype=np.int64)
    radii = bundled.measured_radii(Z, labels, centroids, [1.0, 1.0, 7.0], floor_factor=0.5)
    q = float(np.quantile(d0, 0.99))
    # The median of (q, 0.1, 7.0) is 7.0: class 1 is floored at 3.5.
    assert radii == pytest.approx([q, 3.5, 7.0])


def test_add_archetypes_names_each_signal_no_fitted_class_rests_on() -> None:
    content = artifact_content(names=NAMES, mean=[1.0, 0.0, 0.3], scale=[0.9, 1.0, 0.6])
    content["classes"][2]["requires"] = [{"signal": "cart_adds", "min": 0.5}]
    content["report"]["missing_signals"] = ["comparisons"]
    art = bundled.add_archetypes(load_model(seal(content)).artifact)
    model = load_model(seal(art.model_dump(mode="json")))
    # cart_adds already has a class resting on it: only comparisons gets an archetype.
    assert model.slugs[3:] == ("comparison-shopper",)
    assert model.requirements[3] == (("comparisons", ARCHETYPE_REQUIRES),)
    # The missing signal gets mean 0 and the rule's scale; the others keep theirs.
    assert art.scaler.mean == [1.0, 0.0, 0.3]
    assert art.scaler.scale == [0.9, bundled.MISSING_SCALE, 0.6]
    z = math.log1p(ARCHETYPE_LEVEL) / bundled.MISSING_SCALE
    assert model.centroids[3].tolist() == pytest.approx([0.0, z, 0.0])
    card = art.classes[3]
    assert card.size == 0 and "no real dataset records this signal" in card.description
    assert "comparison-shopper" in art.report.notes[-1]


def test_add_archetypes_leaves_out_a_signal_whose_archetype_slug_a_fitted_class_has() -> None:
    content = artifact_content(names=NAMES, slugs=("a", "comparison-shopper", "c"))
    art = bundled.add_archetypes(load_model(seal(content)).artifact)
    assert [c.slug for c in art.classes] == ["a", "comparison-shopper", "c", "cart-builder"]


def test_floor_scales_moves_centroids_and_remeasures_radii_on_the_artifact() -> None:
    art = _artifact(centroids=[[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]], scale=[0.1, 1.0, 1.0],
                    radius=1.0)
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal([0.2, 0.0, 0.0], 0.05, (40, 3)),
                   rng.normal([0.0, 0.0, 2.0], 0.3, (40, 3))])
    labels = np.array([0] * 40 + [1] * 40, dtype=np.int64)
    out = bundled.floor_scales(art, X, labels, floor=0.5)
    assert out.scaler.scale == [0.5, 1.0, 1.0] and out.scaler.mean == art.scaler.mean
    assert out.centroids[0] == pytest.approx([0.4, 0.0, 0.0])
    Z = (X - np.array(out.scaler.mean)) / np.array(out.scaler.scale)
    q = [float(np.quantile(np.sqrt(((Z[labels == c] - np.array(out.centroids[c])) ** 2)
                                   .sum(axis=1)), 0.99)) for c in (0, 1)]
    # Two classes: the floor, 3x their median radius, is above both.
    floor = bundled.RADIUS_FLOOR_FACTOR * (q[0] + q[1]) / 2
    assert [c.radius for c in out.classes] == pytest.approx([floor, floor])
    assert "Scales floored at 0.5" in out.report.notes[-1]
    assert art.scaler.scale == [0.1, 1.0, 1.0]  # the input artifact is left as it was


def test_finish_seals_the_same_bytes_for_the_same_input() -> None:
    content = artifact_content(names=NAMES, scale=[0.2, 1.0, 1.0])
    content["report"]["missing_signals"] = ["comparisons", "cart_adds"]
    art = load_model(seal(content)).artifact
    X = np.random.default_rng(1).normal(0.0, 0.3, (60, 3))
    labels = np.arange(60, dtype=np.int64) % 3
    session = np.arange(60, dtype=np.int64) // 6  # ten sessions of six states
    first = bundled.finish(art, X, labels, session)
    assert first == bundled.finish(art, X, labels, session)
    model = load_model(first)
    assert model.slugs[3:] == ("comparison-shopper", "cart-builder")
    assert model.artifact.scaler.scale[0] == bundled.SCALE_FLOOR
    # Persistence is measured on the finished model: a share, or None for a class never given.
    assert all(c.persistence is None or 0.0 <= c.persistence <= 1.0
               for c in model.artifact.classes)


def test_card_note_names_the_missing_signals_in_words() -> None:
    assert "price sorts, comparisons;" in bundled.card_note(("price_sorts", "comparisons"))
    assert "rests on them: none;" in bundled.card_note(())
