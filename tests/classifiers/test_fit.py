"""Tests for classifiers/fit.py: k by silhouette, determinism, DBSCAN, fallback, bad input."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from classifiers.artifact import load_model
from classifiers.errors import FitWarning, NotFittedError
from classifiers.fit import SegmentFitter, inverse_transform
from classifiers.kernels import Scorer

NAMES = (
    "product_views", "category_views", "searches", "comparisons", "cart_adds", "cart_removes",
    "checkout_steps", "price_sorts", "deal_views", "review_views", "wishlist_adds",
    "dwell_per_product_s", "distinct_products", "distinct_categories", "session_minutes",
    "revisit_rate",
)
TRANSFORMS = ("log1p",) * 15 + ("identity",)
CREATED = "2026-11-22T10:00:00Z"


def blobs(k: int, per: int = 150, *, seed: int = 0, spread: float = 0.15) -> np.ndarray:
    """``k`` well separated Gaussian blobs in the 16-feature space, non-negative."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.0, 4.0, size=(k, len(NAMES)))
    rows = [c + rng.normal(scale=spread, size=(per, len(NAMES))) for c in centers]
    return np.abs(np.concatenate(rows))


def fit(X: np.ndarray, **params: object) -> SegmentFitter:
    return SegmentFitter(**params).fit(X, feature_names=NAMES, transforms=TRANSFORMS)  # type: ignore[arg-type]


@pytest.mark.parametrize("true_k", [3, 5])
def test_well_separated_blobs_give_the_true_k(true_k: int) -> None:
    fitter = fit(blobs(true_k, seed=true_k))
    assert fitter.k_ == true_k
    assert sorted(fitter.silhouette_by_k_) == list(range(2, 9))
    assert max(fitter.silhouette_by_k_, key=fitter.silhouette_by_k_.__getitem__) == true_k
    assert fitter.centroids_.shape == (true_k, 16)
    assert fitter.labels_.shape == (150 * true_k,)
    assert np.bincount(fitter.labels_).tolist() == [150] * true_k
    assert fitter.algorithm_ == "kmeans"


def test_same_data_and_seed_give_byte_identical_artifacts() -> None:
    X = blobs(4)
    a = fit(X, random_state=3).to_artifact(CREATED, "blobs")
    b = fit(X.copy(), random_state=3).to_artifact(CREATED, "blobs")
    assert a == b
    assert load_model(a).version == load_model(b).version


def test_artifact_scores_training_data_like_the_fit() -> None:
    X = blobs(4)
    fitter = fit(X)
    model = load_model(fitter.to_artifact(CREATED, "blobs", notes=["hand note"]))
    labels, confidence = Scorer(model).score_batch(X)
    assert (labels == fitter.labels_).mean() > 0.99
    assert (labels == fitter.predict(X)).all()
    assert np.median(confidence) > 0.5
    radius_labels, _ = Scorer(model).score_batch(X, use_radius=True)
    assert 0.0 < (radius_labels == -1).mean() <= 0.03  # 99th percentile radius
    report = model.artifact.report
    assert report.rows == 600 and report.k_tried == list(range(2, 9))
    assert "hand note" in report.notes
    assert {c.size for c in model.artifact.classes} == {150}
    assert all(c.rules and c.characteristics for c in model.artifact.classes)
    assert len(set(model.slugs)) == 4


def test_minibatch_kmeans_above_threshold_still_finds_k() -> None:
    fitter = fit(blobs(3, per=400), minibatch_threshold=1000, n_init=3)
    assert fitter.algorithm_ == "minibatch-kmeans"
    assert fitter.k_ == 3


def test_best_k_at_range_edge_warns_and_is_reported() -> None:
    with pytest.warns(FitWarning, match="edge of the range"):
        fitter = fit(blobs(5), min_k=2, max_k=3)
    assert fitter.k_ == 3
    report = orjson.loads(fitter.to_artifact(CREATED, "blobs"))["report"]
    assert any("edge of the range" in w for w in report["warnings"])


def test_dbscan_reports_noise_and_turns_clusters_into_centroids() -> None:
    rng = np.random.default_rng(1)
    X = blobs(3, per=200, spread=0.05)
    noise = rng.uniform(0.0, 8.0, size=(30, 16))
    fitter = fit(np.concatenate([X, noise]), algorithm="dbscan", eps=1.0, min_samples=10)
    assert fitter.k_ == 3
    assert fitter.n_noise_ >= 25
    assert (fitter.labels_[:600] >= 0).all()
    assert (fitter.labels_[600:] == -1).sum() == fitter.n_noise_
    model = load_model(fitter.to_artifact(CREATED, "blobs+noise"))
    assert model.artifact.report.algorithm == "dbscan"
    assert model.artifact.report.noise_rows == fitter.n_noise_
    assert sum(c.size for c in model.artifact.classes) == 630 - fitter.n_noise_
    labels, _ = Scorer(model).score_batch(noise, use_radius=True)
    assert (labels == -1).mean() > 0.9  # noise is not classified


def test_dbscan_with_a_single_cluster_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="DBSCAN found 1 cluster"):
        fit(blobs(1, per=100), algorithm="dbscan", eps=5.0)


def test_too_little_data_falls_back_to_quantile_split_loudly() -> None:
    rng = np.random.default_rng(0)
    X = np.zeros((12, 16))
    X[:, 3] = np.log1p(np.arange(12))  # comparisons 0..11: the widest-range signal
    X[:, 0] = rng.uniform(0, 0.1, size=12)
    with pytest.warns(FitWarning, match="FALLBACK"):
        fitter = fit(X)
    assert fitter.algorithm_ == "quantile-fallback" and fitter.fallback_signal_ == "comparisons"
    assert fitter.k_ == 3
    data = fitter.to_artifact(CREATED, "tiny")
    model = load_model(data)
    assert model.slugs == ("low-comparisons", "mid-comparisons", "high-comparisons")
    assert model.artifact.report.fallback
    assert all(c.description.startswith("FALLBACK") for c in model.artifact.classes)
    # nearest centroid reproduces the split on the one signal: 4 low, 4 mid, 4 high
    labels, _ = Scorer(model).score_batch(X)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_constant_signals_are_reported_missing() -> None:
    X = blobs(3)
    X[:, NAMES.index("searches")] = 0.0
    X[:, NAMES.index("comparisons")] = 0.0
    report = orjson.loads(
        fit(X).to_artifact(CREATED, "blobs", missing_signals=["price_sorts"]))["report"]
    assert report["missing_signals"] == ["searches", "comparisons", "price_sorts"]
    assert any("missing from the data" in n and "searches" in n for n in report["notes"])


def test_labels_rename_classes_in_the_artifact() -> None:
    fitter = fit(blobs(3))
    first = fitter.class_names()[0].slug
    model = load_model(fitter.to_artifact(
        CREATED, "blobs", labels={first: {"slug": "spec-checkers", "display_name": "Spec checkers"}}
    ))
    assert model.slugs[0] == "spec-checkers"
    assert model.display_names[0] == "Spec checkers"
    with pytest.raises(ValueError, match="unknown class 'nope'"):
        fitter.to_artifact(CREATED, "blobs", labels={"nope": {"display_name": "x"}})


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((0, 16)), "empty"),
        (np.ones((1, 16)), "one session"),
        (np.ones(16), "2-dimensional"),
        (np.where(np.eye(30, 16) > 0, np.nan, 1.0), "NaN/inf values in features product_views"),
        (np.full((30, 16), np.inf), "NaN/inf"),
        (np.ones((30, 16)), "every feature is constant"),
        ([["a"] * 16] * 3, "not a numeric matrix"),
        (np.ones((30, 15)), "15 columns but 16 feature names"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(X: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit(X)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_k": 1}, "min_k must be an integer in 2..20"),
        ({"max_k": 21}, "max_k must be an integer in 2..20"),
        ({"min_k": 6, "max_k": 4}, "larger than max_k"),
        ({"algorithm": "spectral"}, "algorithm must be"),
    ],
)
def test_bad_parameters_are_rejected(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit(blobs(2), **params)


def test_unknown_transform_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown transforms"):
        SegmentFitter().fit(blobs(2), feature_names=NAMES, transforms=("cube",) * 16)


def test_results_before_fit_raise_not_fitted() -> None:
    fitter = SegmentFitter()
    with pytest.raises(NotFittedError):
        fitter.predict(np.zeros((2, 16)))
    with pytest.raises(NotFittedError):
        fitter.to_artifact(CREATED, "x")
    assert issubclass(NotFittedError, AttributeError)


def test_inverse_transform_undoes_log1p_and_sqrt() -> None:
    raw = np.array([[3.0, 4.0, 0.5]])
    X = np.array([[np.log1p(3.0), np.sqrt(4.0), 0.5]])
    np.testing.assert_allclose(inverse_transform(X, ("log1p", "sqrt", "identity")), raw)


def test_few_distinct_vectors_fall_back_to_a_two_way_split() -> None:
    X = np.zeros((100, 16))
    X[70:, NAMES.index("deal_views")] = np.log1p(4.0)  # 70 sessions without deals, 30 with 4
    with pytest.warns(FitWarning, match="only 2 distinct feature vectors"):
        fitter = fit(X)
    model = load_model(fitter.to_artifact(CREATED, "degenerate"))
    assert model.slugs == ("low-deal-views", "high-deal-views")
    assert [c.size for c in model.artifact.classes] == [70, 30]
    labels, _ = Scorer(model).score_batch(X)
    assert labels.tolist() == [0] * 70 + [1] * 30


# -- the k rule ----------------------------------------------------------------------------


def _nested(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two far-apart groups; the first is two closer sub-groups, one of which buys 60 % and the
    other 2 %. Silhouette alone prefers the coarse split (k = 2)."""
    rng = np.random.default_rng(seed)
    d = len(NAMES)
    a = np.zeros(d)
    b = np.zeros(d)
    b[0] = 8.0
    a1, a2 = a.copy(), a.copy()
    a1[1:5], a2[1:5] = -0.6, 0.6
    parts, bought = [], []
    for centre, rate, n in ((a1, 0.6, 300), (a2, 0.02, 300), (b, 0.1, 600)):
        parts.append(centre + rng.normal(scale=0.25, size=(n, d)))
        bought.append(rng.random(n) < rate)
    return np.concatenate(parts) + 3.0, np.concatenate(bought)


def test_k_rule_keeps_a_finer_stable_split_that_separates_buyers() -> None:
    X, y = _nested()
    fitter = SegmentFitter(min_k=2, max_k=5).fit(X, y, feature_names=NAMES,
                                                 transforms=TRANSFORMS)
    sil = fitter.silhouette_by_k_
    assert max(sil, key=lambda k: sil[k]) == 2  # silhouette alone picks the coarse split
    assert fitter.k_ == 3
    scores = fitter.k_scores_
    assert scores[3]["separation"] > scores[2]["separation"]
    assert scores[3]["stability"] >= 0.75 and scores[3]["smallest_share"] >= 0.2
    assert sorted(scores[3]["purchase_rates"])[-1] > 0.5
    report = orjson.loads(fitter.to_artifact(CREATED, "nested"))["report"]
    assert "chose k=3" in report["k_rule"]
    assert [s["k"] for s in report["silhouette_by_k"]] == [2, 3, 4, 5]
    assert all("stability" in s and "separation" in s for s in report["silhouette_by_k"])


def test_k_rule_without_labels_prefers_the_finer_of_near_equal_silhouettes() -> None:
    fitter = SegmentFitter()
    fitter.k = None
    fitter.min_share = 0.01
    fitter.k_scores_ = {
        2: {"silhouette": 0.60, "stability": 0.99, "smallest_share": 0.40},
        3: {"silhouette": 0.58, "stability": 0.95, "smallest_share": 0.20},
        4: {"silhouette": 0.57, "stability": 0.60, "smallest_share": 0.10},  # unstable
        5: {"silhouette": 0.59, "stability": 0.90, "smallest_share": 0.004},  # a sliver
        6: {"silhouette": 0.40, "stability": 0.90, "smallest_share": 0.05},  # not distinct
    }
    k, why = fitter._choose_k(with_purchases=False)
    assert k == 3 and "largest stable k" in why


def test_k_rule_with_labels_takes_the_smallest_k_near_the_best_separation() -> None:
    fitter = SegmentFitter()
    fitter.k = None
    fitter.min_share = 0.01
    fitter.k_scores_ = {
        2: {"silhouette": 0.9, "stability": 1.0, "smallest_share": 0.4, "separation": 0.20},
        3: {"silhouette": 0.5, "stability": 0.9, "smallest_share": 0.2, "separation": 0.45},
        4: {"silhouette": 0.4, "stability": 0.9, "smallest_share": 0.1, "separation": 0.48},
        5: {"silhouette": 0.4, "stability": 0.5, "smallest_share": 0.1, "separation": 0.60},
    }
    assert fitter._choose_k(with_purchases=True)[0] == 3


def test_forced_k_is_fitted_and_reported() -> None:
    fitter = fit(blobs(3), k=5)
    assert fitter.k_ == 5 and list(fitter.k_scores_) == [5]
    assert "forced" in fitter.k_rule_


def test_sample_weight_makes_each_session_count_once() -> None:
    # Session A has 1 row, session B 9 rows of the same state: weighted, they are 50/50.
    X = np.abs(np.concatenate([blobs(2, per=40, seed=2)]))
    w = np.where(np.arange(80) < 40, 1.0, 1.0 / 9.0)
    fitter = SegmentFitter(k=2).fit(X, feature_names=NAMES, transforms=TRANSFORMS,
                                    sample_weight=w)
    shares = sorted(orjson.loads(fitter.to_artifact(CREATED, "w"))["classes"],
                    key=lambda c: c["percentage"])
    assert [c["percentage"] for c in shares] == [10.0, 90.0]
    assert np.allclose(fitter.scaler_mean_, np.average(X, axis=0, weights=w))


def test_artifact_records_requirements_for_classes_named_for_a_behaviour() -> None:
    rng = np.random.default_rng(4)
    n = 300
    X = np.zeros((n, len(NAMES)))
    X[:, 0] = rng.uniform(0.5, 2.0, n)  # product views for everyone
    carts = np.arange(n) % 3 == 0
    X[carts, 4] = np.log1p(rng.integers(1, 4, carts.sum()))  # cart_adds
    X[:, 14] = rng.uniform(0.0, 1.0, n)
    content = orjson.loads(fit(X, k=2).to_artifact(CREATED, "carts"))
    by = {c["slug"]: c for c in content["classes"]}
    cart_classes = [c for c in content["classes"] if "cart" in c["slug"]]
    assert cart_classes and all({"signal": "cart_adds", "min": 0.5} in c.get("requires", [])
                                for c in cart_classes)
    assert any(not c.get("requires") for c in by.values())  # someone is left for the rest
    load_model(orjson.dumps(content))  # requirements validate in the artifact
