"""Rule-based archetype classes: one class per behaviour that no fitted class rests on, so a
session that shows it is still given a class that names it.

An archetype's centroid is set by rule (the average training session plus its signal at the
archetype's level: 1.5 events for the event behaviours), it requires its signal, and its radius
is so large that it never declares a session undetermined. The bundled model adds one per event
behaviour of ``ARCHETYPES`` its fitted classes do not rest on (``classifiers.bundled``); a
store's own fit adds one per behaviour of ``OWN_FIT_ARCHETYPES`` that its sessions show but no
fitted class rests on (``add_shown``). Pure: arrays and artifacts in, artifacts out; no files,
no scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from classifiers.artifact import (
    Artifact,
    Characteristic,
    ClassCard,
    Requirement,
    Scaler,
    load_model,
    seal,
    wire,
)
from classifiers.persistence import given_classes
from classifiers.requirements import transform_min

Float1D = npt.NDArray[np.float64]
Float2D = npt.NDArray[np.float64]


ARCHETYPE_LEVEL = 1.5  # events of the signal that characterise the archetype
# No training sessions to measure an archetype's radius on, and "more of the signal" is still
# the archetype: it never declares a session undetermined.
ARCHETYPE_RADIUS = 100.0
ARCHETYPE_REQUIRES = 0.5  # decayed count: one event within about a half-life


class Archetype(NamedTuple):
    """A behaviour a class can be named for by rule: its words, the raw value of its signal
    at its centroid (``level``, in ``unit``) and the least a session must show (``requires``)."""

    slug: str
    display_name: str
    description: str
    suggested_use: str
    level: float = ARCHETYPE_LEVEL
    requires: float = ARCHETYPE_REQUIRES
    unit: str = "events"


# The event behaviours a class can be named for by rule, when the data gives no fitted class
# for them: the bundled model's archetypes, and a store's own fit's.
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
# A store's own fit also names returning to a product already seen, a rate: its radii are
# measured on the store's own sessions, so a rare behaviour with a tiny spread (revisits on
# the Taobao flink slice: 1.8 % of the sessions, buying at twice the base rate) otherwise puts
# its sessions beyond every fitted class's radius, undetermined. (The bundled model's radii
# are floored at 3x their median and leave none of those sessions undetermined.) Centroid: a
# quarter of the product views are revisits; any revisit (naming's floor for a class resting
# on revisits) makes a session eligible.
OWN_FIT_ARCHETYPES = {
    **ARCHETYPES,
    "revisit_rate": Archetype("returning-viewer", "Returning viewer",
                              "Returns to products already seen.",
                              "Remind them of viewed items; answer the objection (price, "
                              "delivery, fit).", level=0.25, requires=0.01,
                              unit="of its product views returning to a product already "
                                   "seen"),
}
# An own fit adds an archetype only for a signal the training data shows: at least this share
# of its sessions, and this many, reach the archetype's requirement at some request. The k rule
# makes no class under 1 % of the sessions, so rarer behaviours are the gap an archetype fills;
# they count from 1 session in 1,000 and at least 3 sessions, fewer being more likely a stray
# click or a test than a behaviour of the store's shoppers (a card would claim one). Measured:
# the rees46 sample's 3 cart-adding sessions of 372 (0.8 %; 2 of them bought) are undetermined
# without an archetype.
MIN_SHARE = 0.001
MIN_SESSIONS = 3


def archetype_centroids(mean: Float1D, scale: Float1D, features: Sequence[str],
                        transforms: Sequence[str], signals: Sequence[str],
                        levels: Sequence[float]) -> tuple[Float2D, Float1D]:
    """One centroid per signal in ``signals`` ``(len(signals), d)``: the average training
    shopper (z = 0 on every signal) plus its signal at the raw value in ``levels`` (through the
    feature's transform, then standardised with ``mean``/``scale`` ``(d,)``), and that z per
    archetype."""
    out = np.zeros((len(signals), len(features)))
    z = np.empty(len(signals))
    for i, (signal, level) in enumerate(zip(signals, levels, strict=True)):
        f = features.index(signal)
        z[i] = (transform_min(transforms[f], level) - mean[f]) / scale[f]
        out[i, f] = z[i]
    return out, z


def unclaimed(artifact: Artifact, table: Mapping[str, Archetype] = ARCHETYPES) -> list[str]:
    """The signals of ``table`` among the model's features that no class rests on (no class's
    requirements name them), in the table's order."""
    features = {f.name for f in artifact.features}
    resting = {r.signal for c in artifact.classes for r in c.requires}
    return [s for s in table if s in features and s not in resting]


def appended(artifact: Artifact, signals: Sequence[str], why: Mapping[str, str], note: str,
             *, table: Mapping[str, Archetype] = ARCHETYPES, mean: Float1D | None = None,
             scale: Float1D | None = None,
             population: Mapping[str, float] | None = None) -> Artifact:
    """``artifact`` with one archetype class of ``table`` appended per signal of ``signals``
    (its card says it is rule-based and ``why[signal]``) and ``note`` added to the report.

    ``mean``/``scale`` ``(d,)``: the scaler the archetypes are placed with, which then replaces
    the artifact's (default: the artifact's, left as it is). ``population``: the training
    sessions' raw mean per signal, shown on the card (default 0). An archetype whose slug a
    class already has is named with its signal added ("Price-sensitive researcher (price
    sorts)")."""
    features = [f.name for f in artifact.features]
    m = np.asarray(artifact.scaler.mean if mean is None else mean, dtype=np.float64)
    s = np.asarray(artifact.scaler.scale if scale is None else scale, dtype=np.float64)
    kinds = [table[signal] for signal in signals]
    centroids, z = archetype_centroids(m, s, features, [f.transform for f in artifact.features],
                                       signals, [a.level for a in kinds])
    taken = {c.slug for c in artifact.classes}
    cards = []
    for signal, arch, zf in zip(signals, kinds, z, strict=True):
        slug, display = arch.slug, arch.display_name
        if slug in taken:
            slug = f"{slug}-{signal.replace('_', '-')}"
            display = f"{display} ({signal.replace('_', ' ')})"
        taken.add(slug)
        cards.append(ClassCard(
            slug=slug, display_name=display,
            description=arch.description + f" Rule-based archetype: {why[signal]}, so its "
            f"centroid is the average session with {signal} set to {arch.level:g} {arch.unit} "
            "(not fitted from data).",
            suggested_use=arch.suggested_use, size=0, percentage=0.0, radius=ARCHETYPE_RADIUS,
            characteristics=[Characteristic(
                signal=signal, importance=1.0, value=arch.level,
                population_value=float(f"{(population or {}).get(signal, 0.0):.4g}"),
                z=round(float(zf), 6))],
            rules=[], requires=(Requirement(signal=signal, min=arch.requires),)))
    update: dict[str, object] = {
        "centroids": [*artifact.centroids, *(wire(row) for row in centroids)],
        "classes": [*artifact.classes, *cards],
        "report": artifact.report.model_copy(
            update={"notes": [*artifact.report.notes, note]}),
    }
    if mean is not None or scale is not None:
        update["scaler"] = Scaler(mean=wire(m), scale=wire(s))
    return artifact.model_copy(update=update)


def shown(X: Float2D, session: npt.NDArray[np.int64], features: Sequence[str],
          transforms: Sequence[str], minimums: Mapping[str, float]) -> dict[str, tuple[int, float]]:
    """Per signal of ``minimums``: how many sessions, and what share of them, reach its minimum
    (raw, e.g. the decayed count) in at least one of their states. ``X`` ``(n, d)`` are the
    training states (transformed features), ``session`` ``(n,)`` their session ids."""
    ids, row_session = np.unique(np.asarray(session), return_inverse=True)
    out = {}
    for signal, minimum in minimums.items():
        f = list(features).index(signal)
        hit = X[:, f] >= transform_min(transforms[f], minimum)
        sessions = len(np.unique(row_session[hit]))
        out[signal] = (sessions, sessions / max(len(ids), 1))
    return out


def add_shown(artifact: Artifact, X: Float2D, session: npt.NDArray[np.int64], *,
              population: Mapping[str, float] | None = None, min_share: float = MIN_SHARE,
              min_sessions: int = MIN_SESSIONS) -> Artifact:
    """A store's own fitted ``artifact`` with an archetype class of ``OWN_FIT_ARCHETYPES`` for
    each signal that no fitted class rests on and that at least ``min_share`` and
    ``min_sessions`` of the training sessions show (reach the archetype's requirement; see
    ``shown``); never for a signal the training data lacks (``report.missing_signals``).
    ``X``, ``session``: the training states and their session ids; ``population``: raw mean
    per signal, for the cards. Each archetype's size and percentage: the training states the
    model with the archetypes gives it, each session weighted once, as for a fitted class.
    Unchanged when no signal qualifies."""
    table = OWN_FIT_ARCHETYPES
    candidates = [s for s in unclaimed(artifact, table)
                  if s not in artifact.report.missing_signals]
    counts = shown(X, session, [f.name for f in artifact.features],
                   [f.transform for f in artifact.features],
                   {s: table[s].requires for s in candidates})
    signals = [s for s in candidates
               if counts[s][0] >= min_sessions and counts[s][1] >= min_share]
    if not signals:
        return artifact
    why = {s: f"no fitted class rests on this signal, though {counts[s][1]:.1%} of the "
              "training sessions show it" for s in signals}
    note = ("Rule-based archetype classes added for the signals that no fitted class rests on "
            f"but at least {min_share:.1%} (and {min_sessions}) of the training sessions show: "
            + ", ".join(f"{s} ({counts[s][1]:.1%} of sessions)" for s in signals)
            + "; each is given only to a session that shows its signal. Their sizes are the "
            "training states the finished model gives them, each session weighted once.")
    out = appended(artifact, signals, why, note, table=table, population=population)
    # Sized like the fitted classes (session-weighted training states), so the live mix and
    # drift compare an archetype with its training share rather than with nothing.
    labels = given_classes(load_model(seal(out.model_dump(mode="json"))), X)
    _, row_session, per_session = np.unique(np.asarray(session), return_inverse=True,
                                            return_counts=True)
    weight = 1.0 / per_session[row_session]
    cards = list(out.classes)
    for c in range(len(artifact.classes), len(cards)):
        w = float(weight[labels == c].sum())
        cards[c] = cards[c].model_copy(update={
            "size": int(np.rint(w)), "percentage": round(100.0 * w / float(weight.sum()), 2)})
    return out.model_copy(update={"classes": cards})
