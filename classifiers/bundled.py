"""The bundled model's adjustments: what `make model` does to a model fitted on other stores'
public logs before it ships.

Three steps, each on arrays and the artifact's typed objects: scales floored so a signal one
small dataset shows a few times cannot dominate live traffic (``floored_scales``); radii measured
again in the floored space (``measured_radii``); one rule-based archetype class
(``classifiers.archetypes``) per signal no fitted class rests on, with a scale set by rule for
the signals no dataset shows (``add_archetypes``). ``finish`` applies them to a fitted ``Artifact``,
measures each class's persistence (``classifiers.persistence``) and seals it. Pure: no files, no
clock, no scikit-learn (the fit itself happens before, in ``fit.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from classifiers.archetypes import ARCHETYPES, appended, unclaimed
from classifiers.artifact import WIRE_DIGITS, Artifact, Scaler, seal, wire
from classifiers.persistence import measured

Float1D = npt.NDArray[np.float64]
Float2D = npt.NDArray[np.float64]


MISSING_SCALE = 0.4  # log1p units: the scale given to a signal no dataset shows
SCALE_FLOOR = 0.5  # log1p units
RADIUS_FLOOR_FACTOR = 3.0  # radius floor = this x the median fitted radius
RADIUS_QUANTILE = 0.99


def floored_scales(scale: Float1D, centroids: Float2D,
                   floor: float = SCALE_FLOOR) -> tuple[Float1D, Float2D]:
    """Every scale raised to at least ``floor`` ``(d,)``, and the centroids ``(k, d)`` moved to
    the new standard units, so each still sits on the same raw values.

    A signal that one small dataset shows a handful of times (category views: GA only) otherwise
    gets a tiny standard deviation, and one such event in live traffic would outweigh
    everything else."""
    new = np.maximum(scale, floor)
    return new, centroids * scale / new


def measured_radii(Z: Float2D, labels: npt.NDArray[np.int64], centroids: Float2D,
                   previous: Sequence[float], *, quantile: float = RADIUS_QUANTILE,
                   floor_factor: float = RADIUS_FLOOR_FACTOR) -> list[float]:
    """Each class's radius ``(k,)``: the ``quantile`` of its members' distances to its centroid
    (rows ``Z`` ``(n, d)`` in standard units, ``labels`` ``(n,)``), at least ``floor_factor`` x
    the median radius, since live sessions are longer than most training visits. A class with
    no member (DBSCAN noise only) keeps its ``previous`` radius."""
    radii = []
    for c, before in enumerate(previous):
        members = Z[labels == c]
        if len(members):
            d = np.sqrt(((members - centroids[c]) ** 2).sum(axis=1))
            radii.append(round(max(float(np.quantile(d, quantile)), 1e-6), WIRE_DIGITS))
        else:
            radii.append(before)
    floor = floor_factor * float(np.median(radii))
    return [round(max(r, floor), WIRE_DIGITS) for r in radii]


def floor_scales(artifact: Artifact, X: Float2D, labels: npt.NDArray[np.int64],
                 floor: float = SCALE_FLOOR) -> Artifact:
    """``artifact`` with every scale at least ``floor``, its centroids moved to match and each
    class radius measured again on its own training rows ``X`` ``(n, d)`` (transformed, not
    standardised) labelled ``labels`` ``(n,)``."""
    mean = np.asarray(artifact.scaler.mean, dtype=np.float64)
    scale, centroids = floored_scales(np.asarray(artifact.scaler.scale, dtype=np.float64),
                                      np.asarray(artifact.centroids, dtype=np.float64), floor)
    radii = measured_radii((X - mean) / scale, np.asarray(labels), centroids,
                           [c.radius for c in artifact.classes])
    note = (f"Scales floored at {floor} log1p units so a signal rare in the training data "
            "cannot dominate live traffic; radii re-measured after the change (99th percentile "
            f"of each class's training distances, at least {RADIUS_FLOOR_FACTOR}x the median "
            "radius, since live sessions are longer than most training visits).")
    return artifact.model_copy(update={
        "scaler": Scaler(mean=artifact.scaler.mean, scale=wire(scale)),
        "centroids": [wire(row) for row in centroids],
        "classes": [c.model_copy(update={"radius": r})
                    for c, r in zip(artifact.classes, radii, strict=True)],
        "report": artifact.report.model_copy(
            update={"notes": [*artifact.report.notes, note]}),
    })


def add_archetypes(artifact: Artifact) -> Artifact:
    """``artifact`` with one rule-based class appended per signal of ``ARCHETYPES`` that no
    fitted class rests on (and whose archetype's slug no fitted class has), and a scaler of
    mean 0 and scale ``MISSING_SCALE`` on the signals the training data lacks
    (``report.missing_signals``)."""
    features = [f.name for f in artifact.features]
    mean = np.asarray(artifact.scaler.mean, dtype=np.float64)
    scale = np.asarray(artifact.scaler.scale, dtype=np.float64)
    constant = set(artifact.report.missing_signals)
    # A missing signal gets scale MISSING_SCALE, so one event moves a session ~1.7 standard
    # units: a few comparisons outweigh the ordinary variation of browsing, which is what the
    # name promises.
    for f, name in enumerate(features):
        if name in constant:
            mean[f], scale[f] = 0.0, MISSING_SCALE
    taken = {c.slug for c in artifact.classes}
    signals = [s for s in unclaimed(artifact) if ARCHETYPES[s].slug not in taken]
    why = {s: "no real dataset records this signal" if s in constant else
              "too few training sessions show this signal to form a class of their own"
           for s in signals}
    note = (f"Signals missing from every real dataset get a scaler of mean 0 and scale "
            f"{MISSING_SCALE} (log1p units), set by rule; rule-based archetype classes added for "
            "the signals no fitted class rests on: "
            + ", ".join(ARCHETYPES[s].slug for s in signals))
    return appended(artifact, signals, why, note, mean=mean, scale=scale)


def finish(artifact: Artifact, X: Float2D, labels: npt.NDArray[np.int64],
           session: npt.NDArray[np.int64]) -> bytes:
    """The bundled model's sealed bytes from the fitted ``artifact`` and its training rows ``X``
    ``(n, d)`` with their fitted ``labels`` ``(n,)`` and session ids ``session`` ``(n,)``:
    scales floored, radii measured again, archetypes added, then each class's persistence
    measured with the finished model. Same input, same bytes."""
    done = add_archetypes(floor_scales(artifact, X, labels))
    return measured(seal(done.model_dump(mode="json")), X, session)


def card_note(missing: Sequence[str]) -> str:
    """The report note that says what the bundled model is good for; ``missing`` are the
    signals none of its training datasets records."""
    words = ", ".join(m.replace("_", " ") for m in missing) or "none"
    return (
        "What this model is good for: a starting point on a store with no model of its own, "
        "until `intentgate fit` has a few thousand of the store's own sessions. Its classes "
        "come from public logs of other stores. None of them records these signals, so no "
        f"fitted class rests on them: {words}; the classes named for them are rule-based "
        "archetypes, not fitted. Its purchase lift on each dataset held out of training is in "
        "docs/models.md (`intentgate lodo`)."
    )
