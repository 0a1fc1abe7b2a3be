"""Segment names and cards: a slug, a display name, readable filter rules and a suggested use.

A class is named from its centroid in standard units (z, the population is 0) in a
merchandiser's words: a ``COMBINATIONS`` name ("Deep researcher") or the name of its one high
signal from ``SIGNALS`` ("Cart builder"), a description listing its distinguishing signals ("Long
visits, many product pages and long time on each product page, compared with the average
session") and the requirements its name rests on (``cart_adds >= 0.5`` for a cart name). Only
signals the training data shows are used. Names are unique within a model and a ``labels``
mapping renames them. Rules come from a shallow one-vs-rest decision tree on raw (untransformed)
values, each with its fidelity measured. Only the ``fit`` commands import this module
(scikit-learn).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.tree import DecisionTreeClassifier

from classifiers.artifact import UNDETERMINED, Artifact

HIGH = 0.5  # z at or above which a signal counts as "high" for a class
NOT_HIGH = 0.25  # z at or below which a signal counts as "low / not elevated"
NOTABLE = 0.25  # |z| from which a signal is worth a word in the description
LABEL_KEYS = frozenset({"slug", "display_name", "description", "suggested_use"})

# Signals that measure how much a session did (a quick visitor is low on all of them).
ACTIVITY = (
    "product_views", "category_views", "searches", "comparisons", "cart_adds", "cart_removes",
    "checkout_steps", "price_sorts", "deal_views", "review_views", "wishlist_adds",
    "distinct_products", "distinct_categories",
)
# Decayed event counters: a name resting on one requires at least this much of it (one event
# within about a half-life), so the class is never given to a session that has not shown it.
COUNTERS = frozenset(ACTIVITY) - {"distinct_products", "distinct_categories"}
COUNTER_MIN = 0.5
# Other signals: the floor of the requirement; the population's raw mean is used when larger
# ("long visits" means longer than the average session).
OTHER_MIN = {"distinct_products": 1.0, "distinct_categories": 1.0, "session_minutes": 0.1,
             "dwell_per_product_s": 1.0, "revisit_rate": 0.01}


@dataclass(frozen=True, slots=True)
class Words:
    """How a merchandiser reads one signal: phrases for high and low, a name for a class that
    stands out by it, and what to do for such shoppers."""

    high: str
    low: str
    name: str
    low_name: str
    use: str


SIGNALS: dict[str, Words] = {
    "product_views": Words("many product pages", "few product pages", "Product explorer",
                           "Light browser",
                           "Recommendations and 'recently viewed' to help narrow the choice."),
    "category_views": Words("many category pages", "few category pages", "Category browser",
                            "Direct-to-product visitor",
                            "Curated collections, category landing pages and visual "
                            "merchandising."),
    "searches": Words("searches often", "rarely searches", "Search-led browser",
                      "Browse-led shopper",
                      "Improve search ranking and autocomplete; show top results with filters."),
    "comparisons": Words("compares products side by side", "rarely compares",
                         "Comparison shopper", "Non-comparer",
                         "Show comparison tables, spec highlights and a 'why this one' summary."),
    "cart_adds": Words("adds to cart", "adds little to the cart", "Cart builder",
                       "Window shopper",
                       "Cart reminders, free-shipping thresholds and saved-cart prompts."),
    "cart_removes": Words("removes items from the cart", "rarely removes items", "Cart editor",
                          "Steady cart",
                          "Show alternatives and 'save for later' rather than losing the item."),
    "checkout_steps": Words("reaches checkout", "does not reach checkout",
                            "Checkout-bound shopper", "Pre-checkout visitor",
                            "Reassure (returns, payment options) and avoid distractions at "
                            "checkout."),
    "price_sorts": Words("sorts and filters by price", "rarely sorts by price",
                         "Price-conscious shopper", "Price-indifferent shopper",
                         "Surface price-match guarantees, price-drop alerts and value bundles."),
    "deal_views": Words("visits deal pages", "skips deal pages", "Deal hunter",
                        "Full-price browser", "Lead with promotions, bundles and limited-time "
                        "offers."),
    "review_views": Words("reads reviews", "rarely reads reviews", "Review reader",
                          "Review skipper",
                          "Show ratings, review highlights and Q&A near the buy button."),
    "wishlist_adds": Words("saves products to a wishlist", "rarely saves products",
                           "Wishlist saver", "Non-saver",
                           "Wishlist reminders, price-drop and back-in-stock notices."),
    "dwell_per_product_s": Words("long time on each product page",
                                 "short time on each product page", "Careful reader", "Skimmer",
                                 "Rich product content: size guides, videos, detailed "
                                 "specifications."),
    "distinct_products": Words("many different products", "few different products",
                               "Range explorer", "Single-product visitor",
                               "Help narrow the choice: comparisons, filters, best-sellers."),
    "distinct_categories": Words("many different categories", "few categories",
                                 "Cross-category browser", "Single-category visitor",
                                 "Cross-sell across departments; show related categories."),
    "session_minutes": Words("long visits", "short visits", "Long-visit browser",
                             "Quick visitor",
                             "Inspiration content, new arrivals and editorial pages."),
    "revisit_rate": Words("returns to products already seen", "rarely returns to a product",
                          "Returning viewer", "First-look browser",
                          "Remind them of viewed items; answer the objection (price, delivery, "
                          "fit)."),
}


@dataclass(frozen=True, slots=True)
class Name:
    """A combination name. ``high``: every one must be present and >= HIGH; ``any_high``: at
    least one present one must be; ``low``: every present one must be <= NOT_HIGH. The signals
    of ``high`` and the best of ``any_high`` are what the name rests on (its requirements)."""

    slug: str
    display_name: str
    suggested_use: str
    high: tuple[str, ...] = ()
    any_high: tuple[str, ...] = ()
    low: tuple[str, ...] = ()


# Names for combinations of signals, tried before the single-signal names of ``SIGNALS``.
COMBINATIONS: tuple[Name, ...] = (
    Name("deep-researcher", "Deep researcher",
         "Rich product content, comparisons and reassurance; do not rush them.",
         high=("session_minutes", "dwell_per_product_s"),
         any_high=("product_views", "distinct_products")),
    Name("high-intent-explorer", "High-intent explorer",
         "Recommend complementary items and show stock and delivery promises.",
         high=("product_views", "cart_adds")),
    Name("quick-cart-adder", "Quick cart-adder",
         "Keep the path short: express checkout, no interstitials, delivery date up front.",
         any_high=("cart_adds", "checkout_steps"), low=("product_views", "session_minutes")),
    Name("price-sensitive-researcher", "Price-sensitive researcher",
         "Surface price-match guarantees, price-drop alerts and value bundles.",
         any_high=("price_sorts", "deal_views"), low=("cart_adds", "checkout_steps")),
)
_COMBO_BONUS = 0.3
LOW_USE = ("An early, light visit: broad best-sellers and clear navigation rather than hard "
           "selling.")  # a combination that fits says more than one signal's name


@dataclass(frozen=True, slots=True)
class ClassName:
    """What a class is called (after any renaming) and what the name rests on."""

    slug: str
    display_name: str
    description: str
    suggested_use: str
    requires: tuple[tuple[str, float], ...] = ()


def _slugify(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")[:63]


def _combo_score(entry: Name, z: Mapping[str, float]) -> tuple[float, tuple[str, ...]]:
    """How well a centroid fits a combination and the signals it rests on; ``-inf`` if not."""
    if any(s not in z for s in entry.high):
        return -math.inf, ()
    high = [z[s] for s in entry.high]
    any_high = [(z[s], s) for s in entry.any_high if s in z]
    low = [z[s] for s in entry.low if s in z]
    if entry.any_high and not any_high:
        return -math.inf, ()
    if any(v < HIGH for v in high) or (any_high and max(any_high)[0] < HIGH):
        return -math.inf, ()
    if any(v > NOT_HIGH for v in low):
        return -math.inf, ()
    rests = entry.high + ((max(any_high)[1],) if any_high else ())
    score = min(high + ([max(any_high)[0]] if any_high else []))
    if low:  # being clearly low where the entry says so is further evidence
        score += 0.25 * min(1.0, -sum(low) / len(low))
    return score + _COMBO_BONUS, rests


def _quick_score(z: Mapping[str, float]) -> float:
    activity = [z[s] for s in ACTIVITY if s in z] or list(z.values())
    if max(activity) > NOT_HIGH or sum(activity) / len(activity) >= 0.0:
        return -math.inf
    return -sum(activity) / len(activity)


def _describe(z: Mapping[str, float], top: int = 3) -> str:
    """"Long visits, many product pages and long dwell, compared with the average session"."""
    ranked = sorted(((abs(v), s) for s, v in z.items() if s in SIGNALS and abs(v) >= NOTABLE),
                    key=lambda t: (-t[0], t[1]))[:top]
    phrases = [SIGNALS[s].high if z[s] > 0 else SIGNALS[s].low for _, s in ranked]
    if not phrases:
        return "Close to the average session on every signal the data has."
    text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return text[0].upper() + text[1:] + ", compared with the average session."


def _requirement(signal: str, population_raw: Mapping[str, float]) -> tuple[str, float]:
    if signal in COUNTERS:
        return signal, COUNTER_MIN
    floor = OTHER_MIN.get(signal, 0.01)
    return signal, round(max(floor, float(population_raw.get(signal, 0.0))), 4)


def name_classes(
    centroids_z: npt.NDArray[np.float64],
    feature_names: Sequence[str],
    *,
    present: Collection[str] | None = None,
    population_raw: Mapping[str, float] | None = None,
) -> list[ClassName]:
    """A unique, human name per class from its centroid in standard units ``(k, d)``.

    ``present`` are the signals the training data shows (default: all); a name or a
    description never rests on any other. ``population_raw`` (raw means) sets the minimum of a
    requirement on a non-counter signal. Greedy over all (class, name) pairs, best score first:
    combinations, then the name of one high signal, then "Quick visitor" for a class low on
    all activity; a class left over is named after its most distinctive signal, high or low,
    with the next one as a qualifier when that name is taken.
    """
    shown = set(feature_names) if present is None else set(present)
    pop = population_raw or {}
    profiles = [{n: float(v) for n, v in zip(feature_names, row.tolist(), strict=True)
                 if n in shown} for row in centroids_z]
    candidates: list[tuple[float, int, str, str, str, tuple[str, ...]]] = []
    for ci, z in enumerate(profiles):
        for entry in COMBINATIONS:
            score, rests = _combo_score(entry, z)
            if score > -math.inf:
                candidates.append((score, ci, entry.slug, entry.display_name,
                                   entry.suggested_use, rests))
        for signal, words in SIGNALS.items():
            if signal in z and z[signal] >= HIGH:
                candidates.append((z[signal], ci, _slugify(words.name), words.name, words.use,
                                   (signal,)))
        quick = _quick_score(z)
        if quick > -math.inf:
            candidates.append((quick, ci, "quick-visitor", "Quick visitor",
                               "Broad best-sellers and newsletter sign-up rather than hard "
                               "selling.", ()))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    chosen: dict[int, tuple[str, str, str, tuple[str, ...]]] = {}
    used: set[str] = set()
    for _, ci, slug, display, use, rests in candidates:
        if ci in chosen or slug in used:
            continue
        chosen[ci] = (slug, display, use, rests)
        used.add(slug)
    for ci, z in enumerate(profiles):
        if ci not in chosen:
            chosen[ci] = _leftover(z, used)
            used.add(chosen[ci][0])
    if profiles and all(chosen[ci][3] for ci in chosen):
        # Some class must claim nothing, or a session that shows none of the named behaviours
        # has no class at all: the class closest to the average session gives up its name.
        ci = min(range(len(profiles)),
                 key=lambda i: (sum(v * v for v in profiles[i].values()), i))
        used.discard(chosen[ci][0])
        chosen[ci] = _claim_free(profiles[ci], used)
        used.add(chosen[ci][0])
    names: list[ClassName] = []
    for ci, z in enumerate(profiles):
        slug, display, use, rests = chosen[ci]
        names.append(ClassName(slug, display, _describe(z), use,
                               tuple(_requirement(s, pop) for s in rests)))
    return names


def _leftover(z: Mapping[str, float], used: set[str]) -> tuple[str, str, str, tuple[str, ...]]:
    """A class no free name fits: its most distinctive signal's name (high or low), qualified
    by the next signal's phrase when taken; a number only as the last resort."""
    ranked = sorted(((abs(v), s) for s, v in z.items() if s in SIGNALS and abs(v) >= NOTABLE),
                    key=lambda t: (-t[0], t[1]))
    if not ranked:
        base = ("typical-session", "Typical session", "Use the store's default experience.")
        return _numbered(base, used)
    _, top = ranked[0]
    words = SIGNALS[top]
    high = z[top] >= HIGH
    display = words.name if high else words.low_name
    rests = (top,) if high else ()
    use = words.use if high else LOW_USE
    options = [display] + [
        f"{display} ({SIGNALS[s].high if z[s] > 0 else SIGNALS[s].low})" for _, s in ranked[1:3]
    ]
    for option in options:
        if _slugify(option) not in used:
            return _slugify(option), option, use, rests
    slug, display, use = _numbered((_slugify(display), display, use), used)[:3]
    return slug, display, use, rests


def _claim_free(z: Mapping[str, float],
                used: set[str]) -> tuple[str, str, str, tuple[str, ...]]:
    """A name that rests on no behaviour: "Quick visitor", a low signal's name, or "General
    browser" (the default class when no other class's behaviour is shown)."""
    if _quick_score(z) > -math.inf and "quick-visitor" not in used:
        return ("quick-visitor", "Quick visitor", LOW_USE, ())
    low = sorted(((v, s) for s, v in z.items() if s in SIGNALS and v <= -NOTABLE))
    for _, signal in low:
        display = SIGNALS[signal].low_name
        if _slugify(display) not in used:
            return _slugify(display), display, LOW_USE, ()
    return _numbered(("general-browser", "General browser",
                      "The default experience: this class is given when a session shows none "
                      "of the behaviours the other classes are named for."), used)


def _numbered(base: tuple[str, str, str], used: set[str]) -> tuple[str, str, str, tuple[str, ...]]:
    slug, display, use = base
    n = 1
    while (f"{slug}-{n}" if n > 1 else slug) in used:
        n += 1
    if n == 1:
        return slug, display, use, ()
    return f"{slug}-{n}", f"{display} {n}", use, ()


def apply_labels(
    names: Sequence[ClassName], labels: Mapping[str, Mapping[str, str]] | None
) -> list[ClassName]:
    """Rename classes: ``{"comparison-shopper": {"display_name": "Spec checkers", "slug": ...}}``.

    Keys are the generated slugs; a key naming no class, an unknown field, an invalid or a
    duplicate slug raise ``ValueError`` naming it.
    """
    out = list(names)
    if not labels:
        return out
    index = {n.slug: i for i, n in enumerate(out)}
    for slug, fields in labels.items():
        if slug not in index:
            raise ValueError(f"labels name unknown class {slug!r} (classes: {', '.join(index)})")
        if not isinstance(fields, Mapping):
            raise ValueError(f"labels for {slug!r} must be a table of fields")
        extra = sorted(set(fields) - LABEL_KEYS)
        if extra:
            raise ValueError(f"labels for {slug!r}: unknown fields {', '.join(extra)}")
        for key, value in fields.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"labels for {slug!r}: {key} must be a non-empty string")
        i = index[slug]
        current = out[i]
        new = {k: v.strip() for k, v in fields.items()}
        out[i] = ClassName(new.get("slug", current.slug),
                           new.get("display_name", current.display_name),
                           new.get("description", current.description),
                           new.get("suggested_use", current.suggested_use), current.requires)
    slugs = [n.slug for n in out]
    for s in slugs:
        if not _valid_slug(s):
            raise ValueError(f"labels: slug {s!r} must be lowercase letters, digits and '-'")
        if slugs.count(s) > 1:
            raise ValueError(f"labels: slug {s!r} is used by more than one class")
    return out


def relabel(artifact: Artifact, labels: Mapping[str, Mapping[str, str]] | None) -> Artifact:
    """``artifact`` with its class cards renamed by ``labels`` (as ``apply_labels``: keys are
    the slugs in ``artifact``, archetype classes included; ``ValueError`` on a bad mapping)."""
    if not labels:
        return artifact
    names = apply_labels([ClassName(c.slug, c.display_name, c.description, c.suggested_use)
                          for c in artifact.classes], labels)
    return artifact.model_copy(update={"classes": [
        c.model_copy(update={"slug": n.slug, "display_name": n.display_name,
                             "description": n.description, "suggested_use": n.suggested_use})
        for c, n in zip(artifact.classes, names, strict=True)]})


def _valid_slug(slug: str) -> bool:
    ok = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return (0 < len(slug) <= 63 and slug[0] != "-" and set(slug) <= ok
            and slug != UNDETERMINED)


def characteristics(
    centroids_z: npt.NDArray[np.float64],
    class_raw_means: npt.NDArray[np.float64],
    population_raw_means: npt.NDArray[np.float64],
    feature_names: Sequence[str],
    top: int = 5,
) -> list[list[dict[str, Any]]]:
    """Per class, its ``top`` most distinctive signals by |z|.

    ``importance`` is the signal's share of the class's total |z| (all signals sum to 1);
    ``value``/``population_value`` are raw means (class vs everyone) so a person can read them.
    """
    out = []
    for ci, zrow in enumerate(centroids_z):
        total = float(np.abs(zrow).sum()) or 1.0
        order = sorted(range(len(zrow)), key=lambda f: (-abs(float(zrow[f])), f))[:top]
        out.append([
            {
                "signal": feature_names[f],
                "importance": round(abs(float(zrow[f])) / total, 4),
                "value": _round(float(class_raw_means[ci, f])),
                "population_value": _round(float(population_raw_means[f])),
                "z": round(float(zrow[f]), 3),
            }
            for f in order
        ])
    return out


def _round(v: float) -> float:
    return float(f"{v:.4g}")


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _condition(name: str, lo: float | None, hi: float | None, integer: bool) -> str:
    """``lo < x <= hi`` as text; integer-valued signals read as ``x ≥ 3``/``x = 0``."""
    if integer:
        ilo = None if lo is None else math.floor(lo) + 1  # x > 2.5 -> x >= 3
        ihi = None if hi is None else math.floor(hi)  # x <= 2.5 -> x <= 2
        if ilo is not None and ihi is not None:
            return f"{name} = {ihi}" if ilo == ihi else f"{ilo} ≤ {name} ≤ {ihi}"
        if ihi is not None:
            return f"{name} = 0" if ihi == 0 else f"{name} ≤ {ihi}"
        return f"{name} ≥ {ilo}"
    if lo is not None and hi is not None:
        return f"{_fmt(lo)} < {name} ≤ {_fmt(hi)}"
    if hi is not None:
        return f"{name} ≤ {_fmt(hi)}"
    return f"{name} > {_fmt(lo if lo is not None else 0.0)}"


def rules(
    X_raw: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    k: int,
    feature_names: Sequence[str],
    *,
    max_depth: int = 2,
    random_state: int | None = 0,
    max_rules: int = 3,
) -> list[list[dict[str, Any]]]:
    """Readable filter rules per class from a one-vs-rest decision tree on raw values.

    ``X_raw`` ``(n, d)`` and ``labels`` ``(n,)`` (-1 = noise, never a member). Each rule is one
    root-to-leaf path whose leaf favours the class; ``fidelity`` is the share of rows on which
    "member iff the rule holds" is right, ``precision`` the share of matching rows that are
    members, ``recall`` the share of members it matches. Best rules (precision × recall) first.
    """
    n = len(labels)
    integer = [bool(np.all(X_raw[:, f] == np.round(X_raw[:, f]))) for f in range(X_raw.shape[1])]
    min_leaf = max(1, n // 200)
    out: list[list[dict[str, Any]]] = []
    for c in range(k):
        y = labels == c
        members = int(y.sum())
        if members == 0 or members == n:
            out.append([])
            continue
        tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_leaf,
                                      class_weight="balanced", random_state=random_state)
        tree.fit(X_raw, y)
        found = []
        for path in _positive_paths(tree):
            mask = np.ones(n, dtype=bool)
            bounds: dict[int, list[float | None]] = {}
            for f, thr, right in path:
                mask &= (X_raw[:, f] > thr) if right else (X_raw[:, f] <= thr)
                lo, hi = bounds.setdefault(f, [None, None])
                if right:
                    bounds[f][0] = thr if lo is None else max(lo, thr)
                else:
                    bounds[f][1] = thr if hi is None else min(hi, thr)
            matched = int(mask.sum())
            tp = int((mask & y).sum())
            if matched == 0 or tp == 0:
                continue
            text = " and ".join(
                _condition(feature_names[f], lo, hi, integer[f])
                for f, (lo, hi) in sorted(bounds.items())
            )
            precision, recall = tp / matched, tp / members
            fidelity = float((mask == y).mean())
            found.append((precision * recall, text, fidelity, precision, recall))
        found.sort(key=lambda r: (-r[0], r[1]))
        out.append([
            {"text": t, "fidelity": round(fi, 4), "precision": round(p, 4), "recall": round(r, 4)}
            for _, t, fi, p, r in found[:max_rules]
        ])
    return out


def _positive_paths(tree: DecisionTreeClassifier) -> list[list[tuple[int, float, bool]]]:
    """Root-to-leaf paths (feature, threshold, went_right) of leaves predicting the class."""
    t = tree.tree_
    positive = list(tree.classes_).index(True)
    paths: list[list[tuple[int, float, bool]]] = []

    def walk(node: int, path: list[tuple[int, float, bool]]) -> None:
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left == -1:
            value = t.value[node][0]
            if int(np.argmax(value)) == positive and path:
                paths.append(path)
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(left, [*path, (f, thr, False)])
        walk(right, [*path, (f, thr, True)])

    walk(0, [])
    return paths
