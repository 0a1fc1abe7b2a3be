"""Does a model's segmentation mean anything for the business? Purchase rate and lift by class.

Input is plain data: per-session feature vectors built from the events *before* each session's
first purchase (so the label never leaks into the features) and a boolean purchase label. Output
is plain data plus a text table. No I/O; the ``evaluate`` command prints the table.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from classifiers.artifact import UNDETERMINED, Model
from classifiers.kernels import Scorer

_EPS = 1e-4  # floor for a share in PSI, so an empty class does not make it infinite


class ClassOutcome(NamedTuple):
    slug: str
    sessions: int
    share: float
    purchases: int
    purchase_rate: float
    lift: float  # purchase_rate / base_rate; nan when the base rate is 0


class Stability(NamedTuple):
    """Class mix of the first half of the sessions against the second half."""

    first_shares: dict[str, float]
    second_shares: dict[str, float]
    psi: float  # population stability index; < 0.1 is usually read as stable
    total_variation: float  # half the L1 distance between the two mixes, 0..1


class Evaluation(NamedTuple):
    model_version: str
    sessions: int
    purchases: int
    base_rate: float
    classes: list[ClassOutcome]  # the model's classes in order, then "undetermined"
    stability: Stability
    violations: int = 0  # sessions the scorer gave a class whose requirements do not hold

    def named_lifts(self, min_sessions: int = 1) -> list[tuple[str, float]]:
        """(slug, lift) of the model's classes with at least ``min_sessions``, best first."""
        out = [(c.slug, c.lift) for c in self.classes
               if c.slug != UNDETERMINED and c.sessions >= min_sessions and not math.isnan(c.lift)]
        return sorted(out, key=lambda t: -t[1])

    @property
    def best_lift(self) -> float:
        """The highest lift among the model's classes with at least one session."""
        lifts = [c.lift for c in self.classes if c.slug != UNDETERMINED and c.sessions > 0]
        return max((x for x in lifts if not math.isnan(x)), default=math.nan)


def _mix(labels: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.float64]:
    counts = np.bincount(labels + 1, minlength=k + 1).astype(np.float64)  # slot 0 = undetermined
    shares: npt.NDArray[np.float64] = counts / max(1.0, counts.sum())
    return shares


def stability(labels: npt.NDArray[np.int64], slugs: tuple[str, ...]) -> Stability:
    """PSI and total variation between the class mix of the first and second half of ``labels``
    (in the order given: sort sessions by start time first to compare periods)."""
    k = len(slugs)
    half = len(labels) // 2
    p, q = _mix(labels[:half], k), _mix(labels[half:], k)
    names = (UNDETERMINED, *slugs)
    pe, qe = np.maximum(p, _EPS), np.maximum(q, _EPS)
    psi = float(((pe - qe) * np.log(pe / qe)).sum())
    tv = float(0.5 * np.abs(p - q).sum())
    return Stability(
        dict(zip(names, p.tolist(), strict=True)), dict(zip(names, q.tolist(), strict=True)),
        psi, tv,
    )


def raw_signals(model: Model, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Untransformed signal values ``(n, d)`` from transformed features (counts, seconds)."""
    raw = np.array(X, dtype=np.float64, copy=True)
    for f, t in enumerate(model.transforms):
        if t == "log1p":
            raw[:, f] = np.expm1(raw[:, f])
        elif t == "sqrt":
            raw[:, f] = np.square(np.clip(raw[:, f], 0.0, None))
    return raw


def allowed(model: Model, X: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """``(n, k)``: does row i meet every requirement of class c (``ClassCard.requires``)."""
    raw = raw_signals(model, X)
    index = {name: f for f, name in enumerate(model.feature_names)}
    ok = np.ones((len(X), model.k), dtype=bool)
    for c, card in enumerate(model.artifact.classes):
        for req in card.requires:
            ok[:, c] &= raw[:, index[req.signal]] >= req.min
    return ok


def enforce_requirements(
    model: Model, X: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], int]:
    """Count the rows whose class's requirements do not hold and give each the nearest class
    whose requirements do (undetermined when none does): the rule the scorer applies."""
    ok = allowed(model, X)
    rows = np.flatnonzero(labels >= 0)
    bad = rows[~ok[rows, labels[rows]]]
    if len(bad) == 0:
        return labels, 0
    z = (X[bad] - model.mean) * model.inv_scale
    d2 = ((z[:, None, :] - model.centroids[None, :, :]) ** 2).sum(axis=2)
    d2[~ok[bad]] = np.inf
    fixed = np.argmin(d2, axis=1)
    out = labels.copy()
    out[bad] = np.where(np.isfinite(d2.min(axis=1)), fixed, -1)
    return out, len(bad)


def evaluate(
    model: Model,
    X: npt.ArrayLike,
    purchased: npt.ArrayLike,
    *,
    n_events: npt.ArrayLike | None = None,
    min_events: int = 0,
    scorer: Scorer | None = None,
) -> Evaluation:
    """Classify every session as the proxy would (``Scorer.label_batch``, the proxy's rule
    without hysteresis) and relate its class to purchases.

    ``X`` ``(n, d)`` transformed features in the model's order, ``purchased`` ``(n,)`` booleans,
    ``n_events`` ``(n,)`` each session's event count (None: the first step of the rule is not
    applied). A session is ``undetermined`` when it has fewer than ``min_events`` events (a
    ``scorer`` passed in brings its own), no class whose requirements hold, a non-finite
    vector, or lies beyond its class's one-sided radius.
    """
    rows = np.asarray(X, dtype=np.float64)
    y = np.asarray(purchased).astype(bool)
    if rows.ndim != 2 or rows.shape[1] != model.d:
        raise ValueError(f"X must have shape (n, {model.d}), got {rows.shape}")
    if y.shape != (rows.shape[0],):
        raise ValueError(f"purchased must have shape ({rows.shape[0]},), got {y.shape}")
    if rows.shape[0] == 0:
        raise ValueError("no sessions to evaluate")
    if n_events is not None and np.shape(n_events) != y.shape:
        raise ValueError(f"n_events must have shape {y.shape}, got {np.shape(n_events)}")
    if scorer is None:
        scorer = Scorer(model, min_events=min_events)
    labels, _conf = scorer.label_batch(rows, n_events)
    labels, violations = enforce_requirements(model, rows, np.asarray(labels, dtype=np.int64))
    n = len(y)
    total = int(y.sum())
    base = total / n
    outcomes = []
    for c, slug in [*enumerate(model.slugs), (-1, UNDETERMINED)]:
        member = labels == c
        size = int(member.sum())
        bought = int((member & y).sum())
        rate = bought / size if size else 0.0
        lift = rate / base if base > 0 else math.nan
        outcomes.append(ClassOutcome(slug, size, size / n, bought, rate, lift))
    return Evaluation(model.version, n, total, base, outcomes, stability(labels, model.slugs),
                      violations)


def format_table(ev: Evaluation) -> str:
    """A fixed-width text table of ``ev`` for a terminal or a note."""
    width = max(len("class"), *(len(c.slug) for c in ev.classes))
    lines = [
        f"model {ev.model_version}: {ev.sessions} sessions, {ev.purchases} with a purchase "
        f"(base rate {ev.base_rate:.2%})",
        f"{'class':<{width}}  {'sessions':>9}  {'share':>7}  {'purchases':>9}  {'rate':>7}  "
        f"{'lift':>5}",
    ]
    for c in ev.classes:
        lift = "  n/a" if math.isnan(c.lift) or c.sessions == 0 else f"{c.lift:5.2f}"
        lines.append(f"{c.slug:<{width}}  {c.sessions:>9}  {c.share:>7.1%}  {c.purchases:>9}  "
                     f"{c.purchase_rate:>7.2%}  {lift}")
    s = ev.stability
    lines.append(f"class mix stability (first vs second half): PSI {s.psi:.3f}, "
                 f"total variation {s.total_variation:.3f}")
    lines.append(f"requirement violations in the scorer's output: {ev.violations}"
                 + (" (each given the nearest class whose requirements hold)"
                    if ev.violations else ""))
    return "\n".join(lines)


def format_early(by_n: dict[int, Evaluation]) -> str:
    """Lift by class from each session's state after its first n events (before any purchase
    or checkout), one column per n: what a personalization engine acts on mid-session."""
    if not by_n:
        return "no session is long enough for an early-session report"
    ns = sorted(by_n)
    slugs = [c.slug for c in next(iter(by_n.values())).classes]
    width = max(len("class"), *(len(s) for s in slugs))
    head = "  ".join(f"{f'after {n}':>16}" for n in ns)
    lines = [f"{'class':<{width}}  {head}"]
    lines.append(f"{'(sessions, base rate)':<{width}}  " + "  ".join(
        f"{by_n[n].sessions:>7} {by_n[n].base_rate:>8.2%}" for n in ns))
    for i, slug in enumerate(slugs):
        cells = []
        for n in ns:
            c = by_n[n].classes[i]
            lift = "n/a" if c.sessions == 0 or math.isnan(c.lift) else f"{c.lift:.2f}"
            cells.append(f"{c.share:>7.1%} {lift:>8}")
        lines.append(f"{slug:<{width}}  " + "  ".join(cells))
    lines.append("cells: share of sessions, purchase lift; violations: "
                 + ", ".join(f"after {n}: {by_n[n].violations}" for n in ns))
    return "\n".join(lines)
