"""Tests for classifiers/kernels.py: hand-worked case, numpy reference, attribution, batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from classifiers.artifact import Model, load_model, seal
from classifiers.kernels import (
    Scorer,
    score_one,
    score_one_reference,
    score_rows_reference,
    warm,
)
from tests.factories import artifact_content

MakeModel = Callable[..., Model]


@pytest.fixture
def make_model() -> MakeModel:
    def make(centroids: list[list[float]], **kw: object) -> Model:
        return load_model(seal(artifact_content(centroids, **kw)))  # type: ignore[arg-type]

    return make


def _random_model(make_model: MakeModel, k: int, d: int, seed: int) -> Model:
    rng = np.random.default_rng(seed)
    return make_model(
        rng.normal(size=(k, d)).tolist(),
        names=tuple(f"f{i}" for i in range(d)),
        mean=rng.normal(size=d).tolist(),
        scale=rng.uniform(0.2, 3.0, size=d).tolist(),
        temperature=float(rng.uniform(0.3, 5.0)),
        radius=10.0,
    )


def test_hand_worked_case(make_model: MakeModel) -> None:
    # mean (1, 1), scale (1, 2): x = (1.5, 1) -> z = (0.5, 0).
    # d2 to (2, 2) = 1.5² + 2² = 6.25; to (10, 10) = 9.5² + 10² = 190.25; to (0, 0) = 0.25.
    model = make_model([[2.0, 2.0], [10.0, 10.0], [0.0, 0.0]], mean=[1.0, 1.0],
                       scale=[1.0, 2.0], temperature=2.0, radius=100.0)
    scorer = Scorer(model)
    cls, runner, confidence, _ = scorer.score(np.array([1.5, 1.0]))
    assert (cls, runner) == (2, 0)
    np.testing.assert_allclose(scorer.z, [0.5, 0.0])
    np.testing.assert_allclose(scorer.d2, [6.25, 190.25, 0.25])
    # 1 - d_c / d_r = 1 - 0.5 / 2.5
    assert confidence == pytest.approx(0.8)
    # (z - r)² - (z - c)²: f0 = 1.5² - 0.5² = 2; f1 = 2² - 0² = 4; sum = margin 6
    np.testing.assert_allclose(scorer.contrib, [2.0, 4.0])
    # evidence z_f * mu_c,f: the class given is the origin, so nothing pulls toward it
    np.testing.assert_allclose(scorer.evidence, [0.0, 0.0])
    cls, _, _, _ = scorer.score(np.array([2.5, 3.0]))  # z = (1.5, 1): nearest (2, 2)
    assert cls == 0
    np.testing.assert_allclose(scorer.evidence, [3.0, 2.0])


@pytest.mark.parametrize(("k", "d"), [(2, 1), (3, 16), (8, 16), (20, 5)])
def test_kernel_agrees_with_numpy_reference_on_seeded_random_inputs(
    make_model: MakeModel, k: int, d: int
) -> None:
    model = _random_model(make_model, k, d, seed=k * 100 + d)
    scorer = Scorer(model, switch_margin=0.2)
    rng = np.random.default_rng(7)
    for _ in range(200):
        x = rng.normal(scale=2.0, size=d)
        prev = int(rng.integers(-1, k))
        cls, runner, conf, _ = scorer.score(x, prev)
        rc, rr, rconf, rd2, rcontrib, revid, rz = score_one_reference(x, model, prev, 0.2)
        assert (cls, runner) == (rc, rr)
        assert conf == pytest.approx(rconf, rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(scorer.d2, rd2, rtol=1e-12)
        np.testing.assert_allclose(scorer.contrib, rcontrib, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(scorer.evidence, revid, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(scorer.z, rz, rtol=1e-12)


def test_attribution_sums_to_the_margin(make_model: MakeModel) -> None:
    model = _random_model(make_model, 6, 16, seed=3)
    scorer = Scorer(model)
    rng = np.random.default_rng(11)
    for _ in range(500):
        cls, runner, _, _ = scorer.score(rng.normal(scale=3.0, size=16))
        if cls < 0:
            continue
        margin = scorer.d2[runner] - scorer.d2[cls]
        assert margin >= 0.0
        assert scorer.contrib.sum() == pytest.approx(margin, rel=1e-9, abs=1e-9)


def test_ties_go_to_the_lowest_index_like_the_reference(make_model: MakeModel) -> None:
    model = make_model([[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0]], radius=10.0)
    cls, runner, conf, _ = Scorer(model).score(np.array([0.0, 0.0]))
    assert (cls, runner) == (0, 1)
    assert score_one_reference(np.zeros(2), model)[:2] == (0, 1)
    assert conf == 0.0  # as near the runner-up as its own centre


def test_batch_equals_single_and_reference(make_model: MakeModel) -> None:
    model = _random_model(make_model, 5, 16, seed=5)
    scorer = Scorer(model)
    X = np.random.default_rng(2).normal(scale=2.0, size=(1000, 16))
    labels, confidence = scorer.score_batch(X, use_radius=True)
    single = [scorer.score(np.ascontiguousarray(row)) for row in X]
    assert labels.tolist() == [c for c, _, _, _ in single]
    given = labels >= 0
    np.testing.assert_allclose(confidence[given], [c for k, _, c, _ in single if k >= 0],
                               rtol=1e-9, atol=1e-15)
    ref_labels, ref_conf, ref_far = score_rows_reference(X, model)
    raw_labels, raw_conf = scorer.score_batch(X)
    assert raw_labels.tolist() == ref_labels.tolist()
    np.testing.assert_allclose(raw_conf, ref_conf, rtol=1e-9, atol=1e-15)
    assert (labels == np.where(ref_far == 1, -1, ref_labels)).all()


def test_batch_marks_non_finite_rows_and_rows_beyond_radius(make_model: MakeModel) -> None:
    model = make_model([[0.0, 0.0], [10.0, 0.0]], radius=1.0)
    scorer = Scorer(model)
    X = np.array([[0.5, 0.0], [9.5, 0.5], [0.0, 50.0], [np.nan, 0.0], [np.inf, 1.0]])
    labels, confidence = scorer.score_batch(X)
    assert labels.tolist() == [0, 1, 0, -1, -1]
    assert confidence[3] == 0.0
    labels, _ = scorer.score_batch(X, use_radius=True)
    assert labels.tolist() == [0, 1, -1, -1, -1]


def test_single_score_refuses_non_finite_vector_and_wrong_length(make_model: MakeModel) -> None:
    scorer = Scorer(make_model([[0.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="not finite"):
        scorer.score(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="shapes do not match"):
        scorer.score(np.array([0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        scorer.score_batch(np.zeros((3, 3)))


def test_each_scorer_owns_its_buffers(make_model: MakeModel) -> None:
    a = Scorer(make_model([[0.0, 0.0], [1.0, 1.0]]))
    b = Scorer(make_model([[5.0, 5.0], [1.0, 1.0], [2.0, 0.0]]))
    a.score(np.array([0.1, 0.1]))
    before = a.d2.copy()
    b.score(np.array([4.0, 4.0]))
    np.testing.assert_array_equal(a.d2, before)
    assert a.d2 is not b.d2 and b.d2.shape == (3,)


def test_warm_compiles_and_leaves_clean_buffers(make_model: MakeModel) -> None:
    model = make_model([[1.0, 2.0], [3.0, 4.0]])
    scorer = warm(model)
    assert len(score_one.signatures) >= 1
    assert not scorer.d2.any() and not scorer.attr.any() and not scorer.z.any()
    assert scorer.score(np.array([1.0, 2.0]))[0] == 0


@pytest.mark.parametrize("top_n", [1, 3, 4])
def test_the_signals_key_decodes_to_the_header_the_evidence_gives(
    make_model: MakeModel, top_n: int
) -> None:
    from explain.headers import SignalsHeader, signals_value

    model = _random_model(make_model, 6, 16, seed=top_n)
    names = tuple(model.feature_names)
    scorer = Scorer(model, 0.1, top_n)
    header = SignalsHeader(names, top_n)
    rng = np.random.default_rng(top_n)
    seen = 0
    for _ in range(500):
        x = rng.normal(scale=2.0, size=16) * rng.integers(0, 2, size=16)
        cls, _, _, key = scorer.score(x)
        if cls < 0:
            assert key == 0
            continue
        seen += key > 0
        expected = signals_value(scorer.evidence, names, top_n)
        assert header.decode(key) == expected
        assert header(key, scorer.evidence) == expected  # cached the second time
    assert seen > 50
    # More signals than a key holds: formatted from the evidence instead.
    wide = Scorer(model, 0.0, 8)
    assert wide.score(rng.normal(size=16))[3] == -1
