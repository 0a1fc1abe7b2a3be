"""Numba kernels that score a feature vector against a model's centroids: the class given (the
nearest class whose requirements hold, with hysteresis and the one-sided radius rule), its
confidence, the evidence for it and the exact margin attribution; and ``Scorer.label``, the one
place the classification rule is decided (too few events, then the kernel's answer).

For a transformed (unscaled) vector x: ``z = (x - mean) * inv_scale``; the distance to class j
is ``d2_j = sum_f t_f^2`` with ``t_f = z_f - mu_j,f``, leaving out a ``t_f > 0`` of a feature
the class requires (``sides`` 2): a session with more of what a class rests on is nearer to
it, not farther. ``sides`` also marks (+1 / -1) the directions a class's centroid defines (at
least ``ONE_SIDED_MIN_Z`` from the mean), which only the radius rule ignores.

- **Eligible** classes are those whose requirements hold: ``x_f >= bound_j,f`` for every f
  (``bound`` is ``-inf`` where class j requires nothing of f; see ``classifiers.requirements``).
- **Nearest** b = argmin of d2 over eligible classes (lowest index on ties); -1 when none is.
- **Radius**: a class claims a session within ``radius2``, measured leaving out every ``t_f``
  beyond the centroid in a direction the class defines (required or +1 / -1); beyond it the
  session is undetermined: a genuinely new combination, not "too much" of the class.
- **Hysteresis**: ``prev`` is the class the session had (-1: none). If prev is still eligible
  and within its radius, it stays unless b is nearer by the switch margin m:
  ``d2_b < (1 - m)^2 * d2_prev`` (distance ``(1 - m)`` times prev's or less), or b rests on
  a behaviour (has requirements, which hold) while prev rests on none: a behaviour newly shown
  is evidence, not noise. m = 0: no hysteresis. The class given c is prev, b, or -1.
- **Confidence** ``1 - d_c / d_r`` (Euclidean distances, clamped to 0..1), r the nearest other
  eligible class: 0 when the session is as near another class, 1 on the class's centre; 1 when
  no other class is eligible. (``temperature`` scales the softmax of the batch API's callers
  that still want it; the header's confidence does not use it.)
- **Evidence** ``e_f = z_f * mu_c,f`` where ``x_f != 0`` and the product is positive, else 0:
  the signals the shopper showed that pull toward c, measured as how far along the class's
  direction from the population mean they lie. ``X-Intent-Signals`` prints shares of its sum.
- **Attribution** ``contrib_f`` = f's term of ``d2_r`` minus its term of ``d2_c`` (each
  ``(z_f - mu_f)^2``, or 0 beyond a required value's centre), summing to ``d2_r - d2_c`` (the
  admin API's technical detail); zero when c or r is -1.

Kernels allocate nothing per call and read no globals; nothing compiles at import (``warm``
compiles, and numba's on-disk cache honours ``NUMBA_CACHE_DIR``). The numpy references beside
each kernel exist for the tests.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from classifiers.artifact import UNDETERMINED, Model

Float1D = npt.NDArray[np.float64]
Float2D = npt.NDArray[np.float64]
Int1D = npt.NDArray[np.int64]


# The rule's first step: a session with fewer events than this is undetermined, not scored
# (the proxy's ``min_events`` setting, whose default this is).
MIN_EVENTS = 3

# Why ``Scorer.label`` gave no class (``Scorer.reason``), in the order the rule checks them.
FEW_EVENTS = "few-events"  # fewer than min_events events: not scored
NO_CLASS_HOLDS = "no-class-holds"  # no class's requirements hold
BEYOND_RADIUS = "beyond-radius"  # beyond the one-sided radius of the nearest class that holds


# Parameters travel as one packed (3k + 2, d) array: row 0 the mean, row 1 the inverse scale,
# rows 2..k+1 the centroids, k+2..2k+1 the requirement bounds, 2k+2..3k+1 the sides. Measured:
# one packed argument 0.43 us vs 0.57 us for five separate ones; returning a tuple of scalars
# beat writing into an output array and unboxing it.
@njit(cache=True, nogil=True, inline="always")
def _term(z: Float1D, params: Float2D, c: int, f: int, k: int) -> float:  # pragma: no cover
    """Feature f's term of the distance to class c (0 beyond a required value's centre)."""
    t: float = z[f] - params[c + 2, f]
    if t > 0.0 and params[2 * k + 2 + c, f] > 1.5:
        return 0.0
    return t * t


@njit(cache=True, nogil=True, inline="always")
def _radius_d2(z: Float1D, params: Float2D, c: int, k: int) -> float:  # pragma: no cover
    """The distance to class c that its radius bounds: beyond the centre in any direction the
    class defines counts 0."""
    s = 0.0
    for f in range(params.shape[1]):
        t = z[f] - params[c + 2, f]
        side = params[2 * k + 2 + c, f]
        if (side > 0.0 and t > 0.0) or (side < 0.0 and t < 0.0):
            continue
        s += t * t
    return s


@njit(cache=True, nogil=True, inline="always")
def _eligible(x: Float1D, params: Float2D, c: int, k: int) -> bool:  # pragma: no cover
    for f in range(params.shape[1]):
        if x[f] < params[k + 2 + c, f]:
            return False
    return True


# The top evidence entries travel back as one int: entry j (13 bits at 13*j) holds the feature
# index + 1 (6 bits) and its share in whole percent, rounded down (7 bits); 0 ends the list.
# The header text is looked up by that key (explain.headers.SignalsHeader), not formatted.
MAX_KEYED_SIGNALS = 4
MAX_KEYED_FEATURES = 62


# The meaning confidence keeps: of classes given at confidence >= 0.5, this share is kept at
# the session's next event (docs/classes-and-explanations.md).
KEEP_TARGET = 0.9


def calibrated(confidence: float, persistence: float | None,
               target: float = KEEP_TARGET) -> float:
    """``confidence`` scaled by ``min(1, (1 - target) / (1 - persistence))``: unchanged for a
    class that holds at least ``target`` of the time, shrunk in proportion to how much more
    often than ``1 - target`` it is lost otherwise (persistence 0.7: x 1/3). The scorer applies
    it to every confidence it gives (``Scorer.confidence_scale``)."""
    if persistence is None or persistence >= target:
        return confidence
    return confidence * (1.0 - target) / (1.0 - persistence)


@njit(cache=True, nogil=True)
def score_one(
    x: Float1D, params: Float2D, cparams: Float1D, prev: int, d2: Float1D, attr: Float2D,
    z: Float1D,
) -> tuple[int, int, float, int]:  # pragma: no cover - compiled
    """``(class given, runner-up, confidence, signals key)``; class -1 is undetermined.
    ``cparams`` is the radius2 of each class, then ``(1 - m)^2`` for switch margin m, then the
    number of signals to key (0: no key, -1 returned), then 1.0 for each class that has
    requirements, then each class's confidence scale (``classifiers.persistence``); ``attr``
    row 0 the attribution, row 1 the evidence."""
    d = params.shape[1]
    k = (params.shape[0] - 2) // 3
    if (x.shape[0] != d or d2.shape[0] != k or attr.shape[0] != 2 or attr.shape[1] != d
            or z.shape[0] != d or cparams.shape[0] != 3 * k + 2):
        raise ValueError("score_one: buffer shapes do not match the model")
    radius2 = cparams
    keep = cparams[k]
    for f in range(d):
        z[f] = (x[f] - params[0, f]) * params[1, f]
    best = -1
    best_d2 = np.inf
    finite = True
    for c in range(k):
        s = 0.0
        for f in range(d):
            t = z[f] - params[c + 2, f]
            if t > 0.0 and params[2 * k + 2 + c, f] > 1.5:
                continue  # more of what the class requires
            s += t * t
        d2[c] = s
        if not s < np.inf:
            finite = False
        # Strict "<" keeps the lowest index on ties; requirements only for a would-be winner.
        if s < best_d2 and _eligible(x, params, c, k):
            best = c
            best_d2 = s
    if not finite:  # a NaN or inf in x poisons every distance
        raise ValueError("score_one: feature vector is not finite")
    cls = -1
    if best >= 0 and _radius_d2(z, params, best, k) <= radius2[best]:
        cls = best
    if 0 <= prev < k and prev != cls and _eligible(x, params, prev, k):
        if _radius_d2(z, params, prev, k) <= radius2[prev]:
            # A behaviour newly shown is not noise: a class resting on one (its requirements
            # hold) takes over from a class resting on none without the margin.
            news = cls >= 0 and cparams[k + 2 + cls] > 0.0 and not cparams[k + 2 + prev] > 0.0
            if not news and (cls < 0 or not d2[cls] < keep * d2[prev]):
                cls = prev
    if cls < 0:
        for f in range(d):
            attr[0, f] = 0.0
            attr[1, f] = 0.0
        return -1, best, 0.0, 0
    # The runner-up: the nearest other eligible class.
    runner = -1
    runner_d2 = np.inf
    for c in range(k):
        if c != cls and d2[c] < runner_d2 and _eligible(x, params, c, k):
            runner = c
            runner_d2 = d2[c]
    confidence = 1.0
    if runner >= 0:
        if runner_d2 > 0.0:
            confidence = 1.0 - math.sqrt(d2[cls] / runner_d2)
            if confidence < 0.0:
                confidence = 0.0
        else:
            confidence = 0.0
    confidence *= cparams[2 * k + 2 + cls]  # a class sessions pass through says so
    for f in range(d):
        mu = params[cls + 2, f]
        if runner >= 0:
            attr[0, f] = _term(z, params, runner, f, k) - _term(z, params, cls, f, k)
        else:
            attr[0, f] = 0.0
        e = z[f] * mu
        attr[1, f] = e if (e > 0.0 and x[f] != 0.0) else 0.0
    n = int(cparams[k + 1])
    if n <= 0:
        return cls, runner, confidence, -1
    # Shares of the positive evidence, in the same order of operations as headers.top_signals.
    total = 0.0
    for f in range(d):
        if attr[1, f] > 0.0:
            total += attr[1, f]
    key = 0
    if total > 0.0:
        inv = 1.0 / total
        last_v = np.inf
        last_f = -1
        for j in range(n):
            # the next largest after (last_v, last_f): larger values first, then lower index
            pick = -1
            pv = 0.0
            for f in range(d):
                v = attr[1, f]
                if not v > 0.0:
                    continue
                if v > last_v or (v == last_v and f <= last_f):
                    continue
                if pick < 0 or v > pv:
                    pick = f
                    pv = v
            if pick < 0:
                break
            share = pv * inv
            pct = int(share * 100.0) if share < 1.0 else 100
            if pct < 1:
                break
            key |= ((pick + 1) | (pct << 6)) << (13 * j)
            last_v = pv
            last_f = pick
    return cls, runner, confidence, key


@njit(cache=True, nogil=True, parallel=True)
def score_rows(
    X: Float2D, params: Float2D, radius2: Float1D, labels: Int1D, confidence: Float1D,
    far: Int1D,
) -> None:  # pragma: no cover - compiled
    """Batch form of ``score_one`` without hysteresis or attribution: ``labels`` the nearest
    eligible class (-1 for a non-finite row or when no class is eligible), ``far`` 1 where
    that class's one-sided radius does not reach the row."""
    n = X.shape[0]
    d = params.shape[1]
    k = (params.shape[0] - 2) // 3
    for i in prange(n):
        best = -1
        best_d2 = np.inf
        runner_d2 = np.inf
        finite = True
        for c in range(k):
            s = 0.0
            ok = True
            for f in range(d):
                x = X[i, f]
                t = (x - params[0, f]) * params[1, f] - params[c + 2, f]
                if x < params[k + 2 + c, f]:
                    ok = False
                if t > 0.0 and params[2 * k + 2 + c, f] > 1.5:
                    continue
                s += t * t
            if not s < np.inf:
                finite = False
            if ok:
                if s < best_d2:
                    runner_d2 = best_d2
                    best = c
                    best_d2 = s
                elif s < runner_d2:
                    runner_d2 = s
        if not finite or best < 0:
            labels[i] = -1
            confidence[i] = 0.0
            far[i] = 1
            continue
        o = 0.0
        for f in range(d):
            t = (X[i, f] - params[0, f]) * params[1, f] - params[best + 2, f]
            side = params[2 * k + 2 + best, f]
            if (side > 0.0 and t > 0.0) or (side < 0.0 and t < 0.0):
                continue
            o += t * t
        labels[i] = best
        far[i] = 1 if o > radius2[best] else 0
        if runner_d2 < np.inf:
            conf = 1.0 - math.sqrt(best_d2 / runner_d2) if runner_d2 > 0.0 else 0.0
            confidence[i] = conf if conf > 0.0 else 0.0
        else:
            confidence[i] = 1.0


class Scorer:
    """Scores vectors for one ``Model`` and decides the class given (``label``); owns the packed
    parameters and the scratch buffers.

    After ``score(x)`` or ``label(...)`` the buffers hold that call's results until the next
    call: ``d2`` ``(k,)``, ``contrib`` ``(d,)`` (margin attribution), ``evidence`` ``(d,)``,
    ``z`` ``(d,)``. Not thread-safe (one event loop per Scorer); a swapped-in model brings its
    own Scorer. ``x`` must be C-contiguous float64 of shape ``(d,)``; another dtype or layout
    would compile a new specialisation on the request path. ``switch_margin`` (0..1) is the
    hysteresis of ``score``; ``min_events`` the rule's first step (``label``).
    """

    __slots__ = ("model", "params", "cparams", "radius2", "temperature", "keep", "confidence_scale",
                 "switch_margin", "min_events", "d2", "attr", "contrib", "evidence", "z")

    def __init__(
        self, model: Model, switch_margin: float = 0.0, key_signals: int = 0, *,
        min_events: int = MIN_EVENTS,
    ) -> None:
        k, d = model.centroids.shape
        if model.mean.shape != (d,) or model.inv_scale.shape != (d,):
            raise ValueError(f"model arrays disagree: centroids {(k, d)}, mean {model.mean.shape}")
        if not 0.0 <= switch_margin < 1.0:
            raise ValueError(f"switch_margin must be within 0..1, got {switch_margin!r}")
        if min_events < 0:
            raise ValueError(f"min_events must be at least 0, got {min_events!r}")
        params = np.empty((3 * k + 2, d), dtype=np.float64)
        params[0] = model.mean
        params[1] = model.inv_scale
        params[2:k + 2] = model.centroids
        bounds = model.req_bounds if model.req_bounds.shape == (k, d) else np.full((k, d), -np.inf)
        sides = model.sides if model.sides.shape == (k, d) else np.zeros((k, d))
        params[k + 2:2 * k + 2] = bounds
        params[2 * k + 2:] = sides
        self.model = model
        self.params: Float2D = params
        self.radius2: Float1D = np.ascontiguousarray(model.radius2, dtype=np.float64)
        self.temperature = float(model.temperature)
        self.switch_margin = float(switch_margin)
        self.min_events = int(min_events)
        self.keep = (1.0 - self.switch_margin) ** 2
        keyed = key_signals if 0 < key_signals <= MAX_KEYED_SIGNALS and d <= MAX_KEYED_FEATURES \
            else 0
        rests = np.isfinite(bounds).any(axis=1).astype(np.float64)
        # Confidence keeps its documented meaning (given at >= 0.5, kept at the next event at
        # least 90 % of the time) for classes that sessions pass through: scaled by how often
        # the class held on its training sessions (1.0 where unmeasured or held enough).
        self.confidence_scale: Float1D = np.array(
            [calibrated(1.0, c.persistence) for c in model.artifact.classes], dtype=np.float64)
        self.cparams: Float1D = np.concatenate(
            [self.radius2, [self.keep, float(keyed)], rests, self.confidence_scale])
        self.d2: Float1D = np.zeros(k, dtype=np.float64)
        self.attr: Float2D = np.zeros((2, d), dtype=np.float64)
        self.contrib: Float1D = self.attr[0]
        self.evidence: Float1D = self.attr[1]
        self.z: Float1D = np.zeros(d, dtype=np.float64)

    # -- the classification rule ---------------------------------------------------------------

    def scores(self, events: int) -> bool:
        """Whether a session with ``events`` events gets past the rule's first step (at least
        ``min_events``). Below it ``label`` is undetermined whatever ``x`` holds, so the engine
        asks this first and spends no feature extraction and no kernel call on such a session."""
        return events >= self.min_events

    def label(self, events: int, x: Float1D, prev: int = -1) -> tuple[int, int, float, int]:
        """The classification rule, the one place it is decided (the engine, the shadow model,
        explanations and replays all call it): ``(class given, runner-up, confidence, signals
        key)`` for a session with ``events`` events, transformed vector ``x`` and previous class
        ``prev`` (-1: none). Class -1 is ``UNDETERMINED`` (``reason`` says why):

        1. fewer than ``min_events`` events: ``(-1, -1, 0.0, 0)``;
        2. otherwise the kernel's answer (module docstring): the nearest class whose
           requirements hold, within its one-sided radius, with hysteresis from ``prev``;
           undetermined when no class holds (runner-up -1) or the nearest is out of reach
           (runner-up that class).

        The buffers hold ``x``'s distances afterwards in both cases (``contrib`` and
        ``evidence`` all 0 when undetermined), so an explanation can show them."""
        if events >= self.min_events:  # the kernel's answer is the rule's: hand it on as is
            return score_one(x, self.params, self.cparams, prev, self.d2, self.attr, self.z)
        if score_one(x, self.params, self.cparams, prev, self.d2, self.attr, self.z)[0] >= 0:
            self.attr.fill(0.0)
        return -1, -1, 0.0, 0

    def label_batch(
        self, X: npt.ArrayLike, events: npt.ArrayLike | None = None
    ) -> tuple[Int1D, Float1D]:
        """``label`` for each row of ``X`` ``(n, d)`` on its own (no hysteresis), in parallel:
        ``(labels, confidence)``, label -1 (``UNDETERMINED``) with confidence 0 by the same
        rule. ``events`` ``(n,)``: each row's event count (None: every row has enough). Unlike
        ``label``, a row with a NaN/inf is undetermined instead of an error."""
        labels, confidence = self.score_batch(X, use_radius=True)
        if events is not None:
            counts = np.asarray(events)
            if counts.shape != labels.shape:
                raise ValueError(f"events must have shape {labels.shape}, got {counts.shape}")
            labels[counts < self.min_events] = -1
        given = labels >= 0
        confidence[given] *= self.confidence_scale[labels[given]]
        confidence[~given] = 0.0
        return labels, confidence

    def slug(self, cls: int) -> str:
        """The slug of a class index from ``label`` (``UNDETERMINED`` for -1)."""
        return UNDETERMINED if cls < 0 else self.model.slugs[cls]

    def reason(self, events: int, cls: int, runner: int) -> str | None:
        """Why ``label`` gave ``cls`` -1: ``FEW_EVENTS``, ``NO_CLASS_HOLDS`` or
        ``BEYOND_RADIUS``, from its arguments and answer; None when it gave a class."""
        if cls >= 0:
            return None
        if events < self.min_events:
            return FEW_EVENTS
        return NO_CLASS_HOLDS if runner < 0 else BEYOND_RADIUS

    # -- the kernels ---------------------------------------------------------------------------

    def score(self, x: Float1D, prev: int = -1) -> tuple[int, int, float, int]:
        """The kernel alone (``label`` without the event count): ``(class given, runner-up,
        confidence, signals key)`` for one transformed vector, the session's previous class
        being ``prev`` (-1: none); class -1 is undetermined. The key encodes the top
        ``key_signals`` evidence shares (-1 when not keyed; see ``MAX_KEYED_SIGNALS``). Fills
        the buffers."""
        return score_one(x, self.params, self.cparams, prev, self.d2, self.attr, self.z)

    def score_batch(
        self, X: npt.ArrayLike, *, use_radius: bool = False
    ) -> tuple[Int1D, Float1D]:
        """``(labels, confidence)`` for rows of ``X`` ``(n, d)``, in parallel, each row on its
        own (no hysteresis): the nearest class whose requirements hold.

        Label -1: a row with a NaN/inf, or no eligible class; with ``use_radius`` also a row
        beyond that class's one-sided radius (``label_batch`` is the rule the proxy applies).
        """
        rows = np.ascontiguousarray(X, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.params.shape[1]:
            raise ValueError(
                f"X must have shape (n, {self.params.shape[1]}), got {rows.shape}"
            )
        n = rows.shape[0]
        labels = np.empty(n, dtype=np.int64)
        confidence = np.empty(n, dtype=np.float64)
        far = np.empty(n, dtype=np.int64)
        score_rows(rows, self.params, self.radius2, labels, confidence, far)
        if use_radius:
            labels[far == 1] = -1
        return labels, confidence

    def warm(self) -> None:
        """Compile (or load from the cache) every kernel signature this Scorer uses."""
        x = np.ascontiguousarray(self.params[0].copy())
        self.score(x)
        self.score_batch(x.reshape(1, -1))
        self.d2.fill(0.0)
        self.attr.fill(0.0)
        self.z.fill(0.0)


def warm(
    model: Model, switch_margin: float = 0.0, key_signals: int = 0, *,
    min_events: int = MIN_EVENTS,
) -> Scorer:
    """Build a ``Scorer`` for ``model`` with its kernels compiled; call before taking traffic."""
    scorer = Scorer(model, switch_margin, key_signals, min_events=min_events)
    scorer.warm()
    return scorer


# -- numpy references (tests only) -----------------------------------------------------------


def score_one_reference(
    x: Float1D, model: Model, prev: int = -1, switch_margin: float = 0.0
) -> tuple[int, int, float, Float1D, Float1D, Float1D, Float1D]:
    """``(class, runner, confidence, d2, contrib, evidence, z)`` computed the plain numpy way,
    straight from the rules in the module docstring."""
    z = (x - model.mean) * model.inv_scale
    mu = model.centroids
    t = z[None, :] - mu
    terms = np.where((model.sides > 1.5) & (t > 0), 0.0, t * t)
    d2 = terms.sum(axis=1)
    beyond = ((model.sides > 0) & (t > 0)) | ((model.sides < 0) & (t < 0))
    radius_d2 = np.where(beyond, 0.0, t * t).sum(axis=1)
    eligible = (x[None, :] >= model.req_bounds).all(axis=1)
    inside = eligible & (radius_d2 <= model.radius2)
    candidates = np.flatnonzero(eligible)
    best = int(candidates[np.argmin(d2[candidates])]) if len(candidates) else -1
    cls = best if best >= 0 and inside[best] else -1
    rests: list[bool] = [bool(np.isfinite(row).any()) for row in model.req_bounds]
    if 0 <= prev < len(d2) and prev != cls and inside[prev]:
        news = cls >= 0 and rests[cls] and not rests[prev]
        if not news and (cls < 0 or not d2[cls] < (1.0 - switch_margin) ** 2 * d2[prev]):
            cls = prev
    d = len(z)
    if cls < 0:
        return -1, best, 0.0, d2, np.zeros(d), np.zeros(d), z
    others = [c for c in candidates.tolist() if c != cls]
    runner = min(others, key=lambda c: (d2[c], c)) if others else -1
    if runner < 0:
        conf = 1.0
    else:
        conf = max(0.0, 1.0 - float(np.sqrt(d2[cls] / d2[runner]))) if d2[runner] > 0 else 0.0
    contrib = (terms[runner] - terms[cls]) if runner >= 0 else np.zeros(d)
    e = z * mu[cls]
    evidence = np.where((e > 0) & (x != 0), e, 0.0)
    return cls, runner, conf, d2, contrib, evidence, z


def score_rows_reference(X: Float2D, model: Model) -> tuple[Int1D, Float1D, Int1D]:
    """``(labels, confidence, far)`` of ``score_rows`` row by row through the reference."""
    labels, conf, far = [], [], []
    for row in np.asarray(X, dtype=np.float64):
        z = (row - model.mean) * model.inv_scale
        t = z[None, :] - model.centroids
        sd = model.sides
        d2 = np.where((sd > 1.5) & (t > 0), 0.0, t * t).sum(axis=1)
        radius_d2 = np.where(((sd > 0) & (t > 0)) | ((sd < 0) & (t < 0)), 0.0, t * t).sum(axis=1)
        eligible = np.flatnonzero((row[None, :] >= model.req_bounds).all(axis=1))
        if not len(eligible):
            labels.append(-1)
            conf.append(0.0)
            far.append(1)
            continue
        order = eligible[np.argsort(d2[eligible], kind="stable")]
        b = int(order[0])
        labels.append(b)
        far.append(int(radius_d2[b] > model.radius2[b]))
        if len(order) > 1:
            r = d2[int(order[1])]
            conf.append(max(0.0, 1.0 - float(np.sqrt(d2[b] / r))) if r > 0 else 0.0)
        else:
            conf.append(1.0)
    return (np.array(labels, dtype=np.int64), np.array(conf), np.array(far, dtype=np.int64))
