"""Offline fitting: standardise, choose k (stability, smallest class, purchase separation or
silhouette: see ``_choose_k``), name the classes, seal an artifact.

``SegmentFitter`` follows scikit-learn's estimator conventions. Input rows are feature vectors
already transformed the way the proxy computes them (``feature_names``/``transforms`` only travel
into the artifact); ``fit`` never applies a transform itself. Only the ``fit``/``evaluate``
commands import this module: it loads scikit-learn, the request path never does.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from sklearn.cluster import DBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from classifiers.artifact import FORMAT, TRANSFORMS, seal
from classifiers.errors import FitWarning, NotFittedError
from classifiers.naming import ClassName, apply_labels, characteristics, name_classes, rules

Float2D = npt.NDArray[np.float64]
Float1D = npt.NDArray[np.float64]
K_LIMITS = (2, 20)
_CHUNK = 200_000
# The k rule (docs/models.md): a k is eligible when its classes come back under resampling
# (mean bootstrap adjusted Rand index >= STABLE) and its smallest class holds >= min_share of
# the sessions. With purchase labels, the smallest eligible k that reaches SEPARATION_KEEP of
# the best eligible purchase separation wins; without, the largest eligible k whose silhouette
# is within SILHOUETTE_SLACK of the best eligible one.
STABLE = 0.75
SEPARATION_KEEP = 0.9
SILHOUETTE_SLACK = 0.05
MIN_PURCHASES = 20


def inverse_transform(X: Float2D, transforms: Sequence[str]) -> Float2D:
    """Back from the model's input space to raw values (counts, seconds, minutes) ``(n, d)``."""
    raw = np.array(X, dtype=np.float64, copy=True)
    for f, t in enumerate(transforms):
        if t == "log1p":
            raw[:, f] = np.expm1(raw[:, f])
        elif t == "sqrt":
            raw[:, f] = np.square(np.clip(raw[:, f], 0.0, None))
    return raw


@contextmanager
def _foreign_warnings(sink: list[str]) -> Iterator[None]:
    """scikit-learn's warnings (e.g. fewer distinct points than clusters) go into the report."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = f"scikit-learn: {w.message}"
        if text not in sink:
            sink.append(text)


class SegmentFitter:
    """Finds shopper segments in session feature vectors.

    Parameters
    ----------
    min_k, max_k : the range of k tried (2..20).
    n_init : k-means++ initialisations per k.
    random_state : seed for k-means, the silhouette sample and the rule trees.
    algorithm : ``"kmeans"`` (k by silhouette) or ``"dbscan"`` (clusters become centroids, noise
        is reported and left unclassified).
    silhouette_sample : rows in the seeded sample silhouette is computed on.
    minibatch_threshold : from this many rows on, MiniBatchKMeans replaces KMeans.
    eps, min_samples : DBSCAN's parameters (standard units).
    radius_quantile : a class's radius is this quantile of its members' distances.
    temperature : softmax temperature; ``None`` = the median training margin ``d2_r - d2_c``.
    card_sample : rows (seeded sample) the rule trees are grown on.
    k : force this k (still measured and reported); ``None`` = the k rule over min_k..max_k.
    bootstrap, bootstrap_sample : resamples (and their size) behind each k's stability.
    min_share : the smallest class share a k needs to be eligible.

    Learned attributes: ``k_``, ``centroids_`` ``(k, d)`` in standard units, ``scaler_mean_`` and
    ``scaler_scale_`` ``(d,)``, ``silhouette_by_k_`` ``{k: score}``, ``labels_`` ``(n,)`` (-1 =
    DBSCAN noise), ``algorithm_``, ``radius_`` ``(k,)``, ``temperature_``, ``warnings_``.
    """

    def __init__(
        self,
        min_k: int = 2,
        max_k: int = 8,
        n_init: int = 10,
        random_state: int | None = 0,
        algorithm: Literal["kmeans", "dbscan"] = "kmeans",
        silhouette_sample: int = 5_000,
        minibatch_threshold: int = 100_000,
        eps: float = 0.5,
        min_samples: int = 10,
        radius_quantile: float = 0.99,
        temperature: float | None = None,
        card_sample: int = 20_000,
        k: int | None = None,
        bootstrap: int = 4,
        bootstrap_sample: int = 5_000,
        min_share: float = 0.01,
    ) -> None:
        self.min_k = min_k
        self.max_k = max_k
        self.n_init = n_init
        self.random_state = random_state
        self.algorithm = algorithm
        self.silhouette_sample = silhouette_sample
        self.minibatch_threshold = minibatch_threshold
        self.eps = eps
        self.min_samples = min_samples
        self.radius_quantile = radius_quantile
        self.temperature = temperature
        self.card_sample = card_sample
        self.k = k
        self.bootstrap = bootstrap
        self.bootstrap_sample = bootstrap_sample
        self.min_share = min_share

    # -- validation --------------------------------------------------------------------------

    def _check_params(self) -> None:
        lo, hi = K_LIMITS
        for name in ("min_k", "max_k"):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
        if self.min_k > self.max_k:
            raise ValueError(f"min_k ({self.min_k}) is larger than max_k ({self.max_k})")
        if self.algorithm not in ("kmeans", "dbscan"):
            raise ValueError(f"algorithm must be 'kmeans' or 'dbscan', got {self.algorithm!r}")
        if self.n_init < 1 or self.silhouette_sample < 2 or self.card_sample < 2:
            raise ValueError("n_init must be >= 1 and the sample sizes >= 2")
        if not 0.5 <= self.radius_quantile <= 1.0:
            raise ValueError(f"radius_quantile must be in 0.5..1, got {self.radius_quantile}")
        if self.k is not None and not (isinstance(self.k, int) and lo <= self.k <= hi):
            raise ValueError(f"k must be an integer in {lo}..{hi}, got {self.k!r}")
        if not 0.0 <= self.min_share < 0.5:
            raise ValueError(f"min_share must be in 0..0.5, got {self.min_share}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    @staticmethod
    def _check_X(
        X: npt.ArrayLike, feature_names: Sequence[str], transforms: Sequence[str]
    ) -> Float2D:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"X is not a numeric matrix: {exc}") from None
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-dimensional (sessions × features), got {arr.ndim}-d")
        n, d = arr.shape
        if n == 0 or d == 0:
            raise ValueError("X is empty: no sessions to fit")
        if n == 1:
            raise ValueError("X has one session; at least 2 are needed to fit segments")
        if len(feature_names) != d or len(transforms) != d:
            raise ValueError(
                f"X has {d} columns but {len(feature_names)} feature names and "
                f"{len(transforms)} transforms"
            )
        if len(set(feature_names)) != d:
            raise ValueError("feature_names contain duplicates")
        bad_t = sorted({t for t in transforms if t not in TRANSFORMS})
        if bad_t:
            raise ValueError(f"unknown transforms {bad_t}; allowed: {', '.join(TRANSFORMS)}")
        finite = np.isfinite(arr)
        if not finite.all():
            cols = [feature_names[f] for f in np.flatnonzero(~finite.all(axis=0)).tolist()]
            count = int((~finite).sum())
            raise ValueError(f"X has {count} NaN/inf values in features {', '.join(cols)}")
        return arr

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike | None = None,
        *,
        feature_names: Sequence[str],
        transforms: Sequence[str],
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit on ``X`` ``(n_rows, d)`` (transformed features). ``y`` ``(n,)``, optional: did
        the row's session buy (reported per class and used by the k rule). ``sample_weight``
        ``(n,)``, optional: e.g. ``1 / rows of its session`` so each session weighs one."""
        self._check_params()
        arr = self._check_X(X, feature_names, transforms)
        n, d = arr.shape
        if sample_weight is None:
            w = np.ones(n)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"sample_weight must be ({n},) finite, >= 0, not all 0")
        self.weight_ = w
        self.y_: npt.NDArray[np.bool_] | None = None
        if y is not None:
            yy = np.asarray(y).astype(bool)
            if yy.shape != (n,):
                raise ValueError(f"y must have shape ({n},), got {yy.shape}")
            self.y_ = yy
        self.feature_names_ = tuple(feature_names)
        self.transforms_ = tuple(transforms)
        self.n_rows_ = n
        self.warnings_: list[str] = []
        self.notes_: list[str] = []
        self.n_noise_ = 0
        self.fallback_signal_: str | None = None
        self.k_scores_: dict[int, dict[str, Any]] = {}
        self.k_rule_ = ""
        rng = np.random.default_rng(self.random_state)

        mean = np.average(arr, axis=0, weights=w)
        std = np.sqrt(np.average((arr - mean) ** 2, axis=0, weights=w))
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        if constant.all():
            raise ValueError("every feature is constant in X: there is nothing to segment")
        self.missing_signals_ = tuple(feature_names[f] for f in np.flatnonzero(constant).tolist())
        scale = np.where(constant, 1.0, std)  # as StandardScaler: a constant column keeps 1
        self.scaler_mean_ = mean
        self.scaler_scale_ = scale
        Z = (arr - mean) / scale

        # Rows drawn in proportion to their weight: each session counts once here too.
        sample = np.sort(rng.choice(n, size=min(n, self.silhouette_sample), replace=False,
                                    p=w / w.sum()))
        distinct = len(np.unique(Z[sample], axis=0))
        if n < max(20, 5 * self.min_k) or distinct < max(self.min_k, 2) + 1:
            why = (f"only {n} sessions" if n < max(20, 5 * self.min_k)
                   else f"only {distinct} distinct feature vectors")
            self._fit_fallback(Z, why)
        elif self.algorithm == "dbscan":
            self._fit_dbscan(Z, sample)
        else:
            self._fit_kmeans(Z, sample, distinct)

        self._finish(arr, Z, rng)
        return self

    def _warn(self, message: str) -> None:
        self.warnings_.append(message)
        warnings.warn(message, FitWarning, stacklevel=3)

    def _kmeans(self, k: int, Z: Float2D, w: Float1D, n_init: int,
                minibatch: bool) -> KMeans | MiniBatchKMeans:
        est: KMeans | MiniBatchKMeans
        if minibatch:
            est = MiniBatchKMeans(n_clusters=k, init="k-means++", n_init=n_init,
                                  random_state=self.random_state, batch_size=4096,
                                  max_no_improvement=10)
        else:
            est = KMeans(n_clusters=k, init="k-means++", n_init=n_init,
                         random_state=self.random_state)
        with _foreign_warnings(self.warnings_):
            est.fit(Z, sample_weight=w)
        return est

    def _stability(self, k: int, Z: Float2D, w: Float1D, sample: npt.NDArray[np.int64],
                   reference: npt.NDArray[np.int64]) -> float:
        """Mean adjusted Rand index between the k-means labels of the evaluation sample and
        those of k-means refitted on weighted bootstrap resamples."""
        rng = np.random.default_rng(self.random_state)
        m = min(len(Z), self.bootstrap_sample)
        scores = []
        for _ in range(self.bootstrap):
            idx = rng.choice(len(Z), size=m, replace=True, p=w / w.sum())
            est = KMeans(n_clusters=k, init="k-means++", n_init=2,
                         random_state=self.random_state)
            with _foreign_warnings(self.warnings_):
                est.fit(Z[idx])
            scores.append(adjusted_rand_score(reference, est.predict(Z[sample])))
        return float(np.mean(scores)) if scores else 1.0

    def _fit_kmeans(self, Z: Float2D, sample: npt.NDArray[np.int64], distinct: int) -> None:
        n = len(Z)
        w = self.weight_
        hi = min(self.max_k, distinct - 1, n // 5)
        if self.k is not None:
            ks = [min(self.k, max(distinct - 1, 2))]
            if ks[0] != self.k:
                self.notes_.append(f"k={self.k} capped at {ks[0]}: too few distinct sessions")
        else:
            if hi < self.max_k:
                self.notes_.append(f"k capped at {hi}: the data supports no more clusters")
            ks = list(range(self.min_k, max(hi, self.min_k) + 1))
        minibatch = n >= self.minibatch_threshold
        self.algorithm_ = "minibatch-kmeans" if minibatch else "kmeans"
        self.silhouette_by_k_: dict[int, float] = {}
        self.k_scores_ = {}
        y = self.y_
        buyers = float((w * y).sum()) if y is not None else 0.0
        with_purchases = (y is not None and int(y.sum()) >= MIN_PURCHASES
                          and buyers < w.sum())
        fits: dict[int, Any] = {}
        for k in ks:
            est = self._kmeans(k, Z, w, self.n_init, minibatch)
            labels = np.asarray(est.labels_, dtype=np.int64)
            score = _silhouette(Z[sample], labels[sample], self.random_state)
            self.silhouette_by_k_[k] = score
            shares = np.bincount(labels, weights=w, minlength=k) / w.sum()
            entry: dict[str, Any] = {
                "k": k, "silhouette": round(score, 6),
                "stability": round(self._stability(k, Z, w, sample, labels[sample]), 6),
                "smallest_share": round(float(shares.min()), 6),
            }
            if with_purchases and y is not None:
                bought = np.bincount(labels, weights=w * y, minlength=k).astype(np.float64)
                rates = bought / np.maximum(shares * w.sum(), 1e-12)
                entry["purchase_rates"] = [round(float(r), 6) for r in rates]
                entry["separation"] = round(float(_gini(bought, shares * w.sum() - bought)), 6)
            self.k_scores_[k] = entry
            fits[k] = est
        k, why = self._choose_k(with_purchases)
        self.k_rule_ = why
        self.notes_.append(f"{self.algorithm_}: k tried {ks[0]}..{ks[-1]}; {why}")
        if self.k is None and len(ks) > 1 and (
            (k == self.max_k and self.max_k < K_LIMITS[1]) or (k == self.min_k and self.min_k > 2)
        ):
            self._warn(f"best k={k} is at the edge of the range {self.min_k}..{self.max_k}; "
                       "consider widening it")
        est = fits[k]
        self._set_clusters(np.asarray(est.cluster_centers_, dtype=np.float64),
                           np.asarray(est.labels_, dtype=np.int64))

    def _choose_k(self, with_purchases: bool) -> tuple[int, str]:
        """The documented k rule (module constants); returns k and the sentence saying why."""
        scores = self.k_scores_
        ks = sorted(scores)
        if self.k is not None:
            return ks[0], f"k={ks[0]} forced by --k"
        eligible = [k for k in ks if scores[k]["stability"] >= STABLE
                    and scores[k]["smallest_share"] >= self.min_share]
        prefix = ""
        if not eligible:
            eligible = ks
            prefix = (f"no k had stability >= {STABLE} and a smallest class >= "
                      f"{self.min_share:.0%}, so every k competed; ")
        if with_purchases:
            best = max(scores[k]["separation"] for k in eligible)
            k = next(k for k in eligible if scores[k]["separation"] >= SEPARATION_KEEP * best)
            return k, (f"{prefix}chose k={k}: the smallest stable k reaching "
                       f"{SEPARATION_KEEP:.0%} of the best purchase separation "
                       f"({scores[k]['separation']:.3f} of {best:.3f})")
        best_s = max(scores[k]["silhouette"] for k in eligible)
        k = max(k for k in eligible if scores[k]["silhouette"] >= best_s - SILHOUETTE_SLACK)
        return k, (f"{prefix}chose k={k}: the largest stable k whose silhouette "
                   f"({scores[k]['silhouette']:.3f}) is within {SILHOUETTE_SLACK} of the best "
                   f"({best_s:.3f}); no purchase labels")

    def _fit_dbscan(self, Z: Float2D, sample: npt.NDArray[np.int64]) -> None:
        self.algorithm_ = "dbscan"
        with _foreign_warnings(self.warnings_):
            labels = np.asarray(DBSCAN(eps=self.eps, min_samples=self.min_samples).fit(Z).labels_,
                                dtype=np.int64)
        found = int(labels.max()) + 1
        if found < 2:
            raise ValueError(
                f"DBSCAN found {found} cluster(s) at eps={self.eps}, min_samples="
                f"{self.min_samples}; a model needs at least 2 (try a smaller eps or kmeans)"
            )
        centroids = np.stack([Z[labels == c].mean(axis=0) for c in range(found)])
        self.n_noise_ = int((labels < 0).sum())
        keep = labels[sample] >= 0
        self.silhouette_by_k_ = {found: _silhouette(Z[sample][keep], labels[sample][keep],
                                                    self.random_state)}
        self.notes_.append(
            f"dbscan (eps={self.eps}, min_samples={self.min_samples}): {found} clusters, "
            f"{self.n_noise_} noise sessions ({100 * self.n_noise_ / len(Z):.1f}%) reported, "
            "not classified"
        )
        self._set_clusters(centroids, labels)

    def _fit_fallback(self, Z: Float2D, why: str) -> None:
        """Too little data: split the widest-range signal at its 33rd/67th percentiles."""
        self.algorithm_ = "quantile-fallback"
        spread = Z.max(axis=0) - Z.min(axis=0)
        f = int(np.argmax(spread))  # ties -> first feature, deterministic
        col = Z[:, f]
        cuts = np.unique(np.percentile(col, [33.0, 67.0]))
        labels = np.searchsorted(cuts, col, side="left").astype(np.int64)  # x <= cut -> lower
        if len(np.unique(labels)) < 2:
            cuts = np.array([col.min()])
            labels = (col > cuts[0]).astype(np.int64)
        present = np.unique(labels)
        bounds = [float(cuts[j]) for j in present[:-1]]  # each present group's upper cut
        labels = np.searchsorted(present, labels).astype(np.int64)
        k = len(present)
        # Centroids differ only on the split signal (population mean, 0, elsewhere) and sit so
        # that the midpoints between neighbours are the cut points: the nearest centroid at
        # runtime reproduces the split exactly (a tie at a cut goes to the lower class).
        if k == 3:
            mid = (bounds[0] + bounds[1]) / 2.0
            positions = [2.0 * bounds[0] - mid, mid, 2.0 * bounds[1] - mid]
        else:
            half = (col[labels == 1].mean() - col[labels == 0].mean()) / 2.0
            positions = [bounds[0] - half, bounds[0] + half]
        centroids = np.zeros((k, Z.shape[1]))
        centroids[:, f] = positions
        self.fallback_signal_ = self.feature_names_[f]
        self.silhouette_by_k_ = {}
        self._warn(
            f"FALLBACK: {why}, too little for clustering; classes are low/mid/high "
            f"{self.fallback_signal_} (split at its 33rd/67th percentiles), not clusters"
        )
        self._set_clusters(centroids, labels)

    def _set_clusters(self, centroids: Float2D, labels: npt.NDArray[np.int64]) -> None:
        k = len(centroids)
        counts = np.bincount(labels[labels >= 0], minlength=k)
        empty = np.flatnonzero(counts == 0)
        if len(empty) and k - len(empty) >= 2:
            self._warn(f"{len(empty)} empty cluster(s) dropped (k {k} -> {k - len(empty)})")
            keep = np.flatnonzero(counts > 0)
            remap = np.full(k, -1, dtype=np.int64)
            remap[keep] = np.arange(len(keep))
            labels = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)
            centroids = centroids[keep]
        self.centroids_ = np.ascontiguousarray(centroids, dtype=np.float64)
        self.labels_ = labels
        self.k_ = len(self.centroids_)

    def _finish(self, arr: Float2D, Z: Float2D, rng: np.random.Generator) -> None:
        """Radii, temperature and the card data (characteristics, rules) for every class."""
        k, labels = self.k_, self.labels_
        d2_own = np.empty(len(Z))
        margin = np.empty(len(Z))
        for s in range(0, len(Z), _CHUNK):
            d2 = _sq_dist(Z[s:s + _CHUNK], self.centroids_)
            part = np.partition(d2, 1, axis=1) if k > 1 else d2
            lab = labels[s:s + _CHUNK]
            d2_own[s:s + _CHUNK] = np.where(lab >= 0, d2[np.arange(len(d2)), np.maximum(lab, 0)],
                                            np.nan)
            margin[s:s + _CHUNK] = part[:, 1] - part[:, 0]
        radius = np.empty(k)
        for c in range(k):
            own = d2_own[labels == c]
            radius[c] = np.sqrt(np.quantile(own, self.radius_quantile)) if len(own) else 0.0
        self.radius_ = np.maximum(radius, 1e-6)
        if self.temperature is not None:
            self.temperature_ = float(self.temperature)
        else:
            # The median session's winner then gets about sigmoid(1) = 0.73 against its runner-up.
            self.temperature_ = float(max(np.median(margin), 1e-3))

        members = labels >= 0
        w = self.weight_
        raw_means = np.zeros((k, arr.shape[1]))
        pop_means = np.zeros(arr.shape[1])
        for s in range(0, len(arr), _CHUNK):
            raw = inverse_transform(arr[s:s + _CHUNK], self.transforms_)
            lab = labels[s:s + _CHUNK]
            ws = w[s:s + _CHUNK]
            pop_means += (raw * ws[:, None]).sum(axis=0)
            keep = lab >= 0
            for f in range(raw.shape[1]):
                raw_means[:, f] += np.bincount(lab[keep], weights=raw[keep, f] * ws[keep],
                                               minlength=k)
        pop_means /= w.sum()
        self.population_raw_ = pop_means
        self.weights_by_class_ = np.bincount(labels[members], weights=w[members], minlength=k)
        self.sizes_ = np.rint(self.weights_by_class_).astype(np.int64)
        raw_means /= np.maximum(self.weights_by_class_, 1e-12)[:, None]
        self.characteristics_ = characteristics(self.centroids_, raw_means, pop_means,
                                                self.feature_names_)
        idx = np.sort(rng.choice(len(arr), size=min(len(arr), self.card_sample), replace=False))
        with _foreign_warnings(self.warnings_):
            self.rules_ = rules(inverse_transform(arr[idx], self.transforms_), labels[idx], k,
                                self.feature_names_, random_state=self.random_state)

    # -- results -----------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "centroids_"):
            raise NotFittedError("this SegmentFitter is not fitted yet; call fit(X, ...) first")

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Nearest-centroid class index for each row of ``X`` ``(n, d)`` (no radius applied)."""
        self._check_fitted()
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(self.feature_names_):
            raise ValueError(f"X must have shape (n, {len(self.feature_names_)}), got {arr.shape}")
        Z = (arr - self.scaler_mean_) / self.scaler_scale_
        labels: npt.NDArray[np.int64] = np.argmin(_sq_dist(Z, self.centroids_), axis=1)
        return labels.astype(np.int64)

    def class_names(self, labels: Mapping[str, Mapping[str, str]] | None = None,
                    missing_signals: Sequence[str] = ()) -> list[ClassName]:
        """Generated names, then ``labels`` applied (``ValueError`` on a bad mapping). A name
        or description never rests on a signal constant in the data or in ``missing_signals``."""
        self._check_fitted()
        if self.algorithm_ == "quantile-fallback" and self.fallback_signal_ is not None:
            names = _fallback_names(self.k_, self.fallback_signal_)
        else:
            absent = set(missing_signals) | set(self.missing_signals_)
            present = [f for f in self.feature_names_ if f not in absent]
            names = name_classes(self.centroids_, self.feature_names_, present=present,
                                 population_raw=dict(zip(self.feature_names_,
                                                         self.population_raw_.tolist(),
                                                         strict=True)))
        return apply_labels(names, labels)

    def to_artifact(
        self,
        created_at: str,
        data_source: str,
        notes: Sequence[str] = (),
        labels: Mapping[str, Mapping[str, str]] | None = None,
        *,
        missing_signals: Sequence[str] = (),
    ) -> bytes:
        """The sealed model artifact (canonical JSON bytes; same data and seed, same bytes).

        ``created_at`` is an ISO 8601 timestamp (its date starts the version); ``notes`` and
        ``missing_signals`` (signals the data source lacks) are added to the training report.
        """
        self._check_fitted()
        names = self.class_names(labels, missing_signals)
        missing = [f for f in self.feature_names_
                   if f in set(missing_signals) or f in self.missing_signals_]
        report_notes = list(self.notes_)
        if missing:
            report_notes.append(
                "signals missing from the data (constant in every session, so they cannot "
                f"separate classes): {', '.join(missing)}"
            )
        report_notes.extend(notes)
        fallback = self.algorithm_ == "quantile-fallback"
        classes = []
        for c, name in enumerate(names):
            description = name.description
            if fallback:
                description = ("FALLBACK (too little data to cluster): "
                               f"{self.fallback_signal_} split at its 33rd/67th percentiles. "
                               + description)
            classes.append({
                "slug": name.slug,
                "display_name": name.display_name,
                "description": description,
                "suggested_use": name.suggested_use,
                "size": int(self.sizes_[c]),
                "percentage": round(100.0 * float(self.weights_by_class_[c])
                                    / float(self.weight_.sum()), 2),
                "radius": float(self.radius_[c]),
                "characteristics": self.characteristics_[c],
                "rules": self.rules_[c],
                "requires": [{"signal": sig, "min": m} for sig, m in name.requires],
            })
        content = {
            "format": FORMAT,
            "created_at": created_at,
            "features": [{"name": n, "transform": t}
                         for n, t in zip(self.feature_names_, self.transforms_, strict=True)],
            "scaler": {"mean": self.scaler_mean_.tolist(), "scale": self.scaler_scale_.tolist()},
            "temperature": self.temperature_,
            "centroids": self.centroids_.tolist(),
            "classes": classes,
            "report": {
                "algorithm": self.algorithm_,
                "k_tried": sorted(self.silhouette_by_k_),
                "k_rule": getattr(self, "k_rule_", ""),
                "silhouette_by_k": [
                    getattr(self, "k_scores_", {}).get(k, {"k": k, "silhouette": round(v, 6)})
                    for k, v in sorted(self.silhouette_by_k_.items())],
                "data_source": data_source,
                "rows": self.n_rows_,
                "noise_rows": self.n_noise_,
                "random_state": self.random_state,
                "fallback": fallback,
                "missing_signals": missing,
                "notes": report_notes,
                "warnings": list(self.warnings_),
            },
        }
        return seal(content)


def _fallback_names(k: int, signal: str) -> list[ClassName]:
    levels = ("low", "mid", "high") if k == 3 else ("low", "high")
    human = signal.replace("_", " ")
    return [
        ClassName(
            slug=f"{level}-{signal.replace('_', '-')}",
            display_name=f"{level.capitalize()} {human}",
            description=f"Sessions with {level} {human}.",
            suggested_use="Interim segment: refit with more sessions before targeting it.",
        )
        for level in levels[:k]
    ]


def _gini(buyers: Float1D, others: Float1D) -> float:
    """Purchase separation of a partition: 2·AUC − 1 of ranking sessions by their class's
    purchase rate (0 = the classes say nothing about buying, 1 = they split buyers off
    perfectly). ``buyers``/``others`` are (weighted) counts per class."""
    pos, neg = float(buyers.sum()), float(others.sum())
    if pos <= 0 or neg <= 0:
        return 0.0
    rate = buyers / np.maximum(buyers + others, 1e-12)
    order = np.argsort(rate, kind="stable")
    auc, below = 0.0, 0.0
    for c in order:  # classes of equal rate are not told apart: they count half
        auc += buyers[c] * (below + 0.5 * others[c])
        below += others[c]
    return max(0.0, 2.0 * auc / (pos * neg) - 1.0)


def _sq_dist(Z: Float2D, centroids: Float2D) -> Float2D:
    """Squared Euclidean distances ``(n, k)``, exact enough to pick the nearest centroid."""
    d2 = (Z * Z).sum(axis=1)[:, None] - 2.0 * Z @ centroids.T + (centroids * centroids).sum(axis=1)
    out: Float2D = np.maximum(d2, 0.0)
    return out


def _silhouette(Z: Float2D, labels: npt.NDArray[np.int64], seed: int | None) -> float:
    """Silhouette of a sample; -1 where it is undefined (one cluster, or one point per cluster)."""
    n_labels = len(np.unique(labels))
    if n_labels < 2 or n_labels >= len(labels):
        return -1.0
    return float(silhouette_score(Z, labels, random_state=seed))

