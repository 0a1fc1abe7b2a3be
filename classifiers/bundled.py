"""The bundled model's adjustments: what `make model` does to a model fitted on other stores'
public logs before it ships, which a store's own fit never needs.

Three steps, each on arrays and the artifact's typed objects: scales floored so a signal one
small dataset shows a few times cannot dominate live traffic (``floored_scales``); radii measured
again in the floored space (``measured_radii``); one rule-based archetype class per signal no
dataset shows (``archetype_centroids``). ``finish`` applies them to a fitted ``Artifact``,
measures each class's persistence (``classifiers.persistence``) and seals it. Pure: no files, no
clock, no scikit-learn (the fit itself happens before, in ``fit.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from classifiers.artifact import Artifact, Characteristic, ClassCard, Requirement, Scaler, seal
from classifiers.persistence import measured

Float1D = npt.NDArray[np.float64]
Float2D = npt.NDArray[np.float64]


class Archetype(NamedTuple):
    slug: str
    display_name: str
    description: str
    suggested_use: str


# Signals no real dataset we have can show. The bundled model adds one documented, rule-based
# archetype class per such signal (its centroid is set by rule, not fitted), so the proxy can
# still name a comparison shopper; the card says so.
ARCHETYPES = {
    "comparisons": Archetype("comparison-shopper", "Comparison shopper",
                             "Compares products side by side before deciding.",
                             "Show comparison tables, spec highlights and reviews."),
    "price_sorts": Archetype("price-sensitive-researcher", "Price-sensitive researcher",
                             "Sorts and filters by price; looks for the cheapest option.",
                             "Lead with price, bundles and price-match messaging."),
    "review_views": Archetype("review-reader", "Review reader",
                              "Reads reviews before deciding.",
                              "Surface ratings, reviews and social proof."),
    "searches": Archetype("search-led-browser", "Search-led browser",
                          "Finds products through search rather than navigation.",
                          "Tune search ranking and suggestions; show 'did you mean'."),
    "deal_views": Archetype("deal-hunter", "Deal hunter", "Drawn to sale pages and discounts.",
                            "Show current promotions and limited-time offers."),
    "cart_adds": Archetype("cart-builder", "Cart builder", "Adds products to the cart.",
                           "Cart reminders, free-shipping thresholds and saved-cart prompts."),
    "wishlist_adds": Archetype("wishlist-saver", "Wishlist saver",
                               "Saves products to a wishlist.",
                               "Wishlist reminders, price-drop and back-in-stock notices."),
}
ARCHETYPE_LEVEL = 1.5  # events of the signal that characterise the archetype
# No training sessions to measure an archetype's radius on, and "more of the signal" is still
# the archetype: it never declares a session undetermined.
ARCHETYPE_RADIUS = 100.0
ARCHETYPE_REQUIRES = 0.5  # decayed count: one event within about a half-life
MISSING_SCALE = 0.4  # log1p units: the scale given to a signal no dataset shows
SCALE_FLOOR = 0.5  # log1p units
RADIUS_FLOOR_FACTOR = 3.0  # radius floor = this x the median fitted radius
RADIUS_QUANTILE = 0.99
_DIGITS = 12  # values written to the file are rounded: shorter, and the same on every machine


def _wire(values: Iterable[float]) -> list[float]:
    # Python's round (correctly rounded), not np.round (scaled, can differ in the last bit).
    return [round(float(v), _DIGITS) for v in values]


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
            radii.append(round(max(float(np.quantile(d, quantile)), 1e-6), _DIGITS))
        else:
            radii.append(before)
    floor = floor_factor * float(np.median(radii))
    return [round(max(r, floor), _DIGITS) for r in radii]


def archetype_centroids(mean: Float1D, scale: Float1D, features: Sequence[str],
                        signals: Sequence[str],
                        level: float = ARCHETYPE_LEVEL) -> tuple[Float2D, Float1D]:
    """One centroid per signal in ``signals`` ``(len(signals), d)``: the average training
    shopper (z = 0 on every signal) plus ``level`` events of that signal (log1p-transformed,
    then standardised with ``mean``/``scale`` ``(d,)``), and that z per archetype."""
    out = np.zeros((len(signals), len(features)))
    z = np.empty(len(signals))
    for i, signal in enumerate(signals):
        f = features.index(signal)
        z[i] = (math.log1p(level) - mean[f]) / scale[f]
        out[i, f] = z[i]
    return out, z


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
        "scaler": Scaler(mean=artifact.scaler.mean, scale=_wire(scale)),
        "centroids": [_wire(row) for row in centroids],
        "classes": [c.model_copy(update={"radius": r})
                    for c, r in zip(artifact.classes, radii, strict=True)],
        "report": artifact.report.model_copy(
            update={"notes": [*artifact.report.notes, note]}),
    })


def add_archetypes(artifact: Artifact) -> Artifact:
    """``artifact`` with one rule-based class appended per signal of ``ARCHETYPES`` that no
    fitted class rests on, and a scaler of mean 0 and scale ``MISSING_SCALE`` on the signals the
    training data lacks (``report.missing_signals``)."""
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
    resting = {r.signal for c in artifact.classes for r in c.requires}
    signals = [s for s, a in ARCHETYPES.items()
               if s in features and s not in resting and a.slug not in taken]
    centroids, z = archetype_centroids(mean, scale, features, signals)
    cards = []
    for signal, zf in zip(signals, z, strict=True):
        arch = ARCHETYPES[signal]
        why = ("no real dataset records this signal" if signal in constant else
               "too few training sessions show this signal to form a class of their own")
        cards.append(ClassCard(
            slug=arch.slug, display_name=arch.display_name,
            description=arch.description + f" Rule-based archetype: {why}, so its centroid is "
            f"the average session with {signal} set to {ARCHETYPE_LEVEL:g} events (not fitted "
            "from data).",
            suggested_use=arch.suggested_use, size=0, percentage=0.0, radius=ARCHETYPE_RADIUS,
            characteristics=[Characteristic(signal=signal, importance=1.0,
                                            value=ARCHETYPE_LEVEL, population_value=0.0,
                                            z=round(float(zf), 6))],
            rules=[], requires=(Requirement(signal=signal, min=ARCHETYPE_REQUIRES),)))
    note = (f"Signals missing from every real dataset get a scaler of mean 0 and scale "
            f"{MISSING_SCALE} (log1p units), set by rule; rule-based archetype classes added for "
            "the signals no fitted class rests on: "
            + ", ".join(ARCHETYPES[s].slug for s in signals))
    return artifact.model_copy(update={
        "scaler": Scaler(mean=_wire(mean), scale=_wire(scale)),
        "centroids": [*artifact.centroids, *(_wire(row) for row in centroids)],
        "classes": [*artifact.classes, *cards],
        "report": artifact.report.model_copy(
            update={"notes": [*artifact.report.notes, note]}),
    })


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
