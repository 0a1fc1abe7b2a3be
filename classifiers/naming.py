"""Segment names and cards: a slug, a display name, readable filter rules and a suggested use.

A class is named from its centroid in standard units (z, the population is 0) against the
documented ``VOCABULARY`` below; names are unique within a model and a ``labels`` mapping renames
them. Rules come from a shallow one-vs-rest decision tree on raw (untransformed) values, each with
its fidelity measured. Only the ``fit``/``evaluate`` commands import this module (scikit-learn).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.tree import DecisionTreeClassifier

HIGH = 0.5  # z at or above which a signal counts as "high" for a class
NOT_HIGH = 0.25  # z at or below which a signal counts as "low / not elevated"
LABEL_KEYS = frozenset({"slug", "display_name", "description", "suggested_use"})

# Signals that measure how much a session did (casual-browser is low on all of them).
ACTIVITY = (
    "product_views", "category_views", "searches", "comparisons", "cart_adds", "cart_removes",
    "checkout_steps", "price_sorts", "deal_views", "review_views", "wishlist_adds",
    "distinct_products", "distinct_categories",
)


@dataclass(frozen=True, slots=True)
class Name:
    """A vocabulary entry. ``high``: every present one must be >= HIGH; ``any_high``: at least one
    present must be; ``low``: every present one must be <= NOT_HIGH. Absent signals are skipped;
    an entry needs at least one of its high/any_high signals present in the model."""

    slug: str
    display_name: str
    description: str
    suggested_use: str
    high: tuple[str, ...] = ()
    any_high: tuple[str, ...] = ()
    low: tuple[str, ...] = ()


# The documented vocabulary, most specific first (earlier wins a tie).
VOCABULARY: tuple[Name, ...] = (
    Name("comparison-shopper", "Comparison shopper",
         "Puts products side by side far more than the average session.",
         "Show comparison tables, spec highlights and a 'why this one' summary.",
         high=("comparisons",)),
    Name("price-sensitive-researcher", "Price-sensitive researcher",
         "Sorts and filters by price or looks at deals, without putting much in the cart.",
         "Surface price-match guarantees, price-drop alerts and value bundles.",
         any_high=("price_sorts", "deal_views"), low=("cart_adds", "checkout_steps")),
    Name("decisive-buyer", "Decisive buyer",
         "Adds to cart or heads to checkout after few product views and a short session.",
         "Keep the path short: express checkout, no interstitials, delivery date up front.",
         any_high=("cart_adds", "checkout_steps"), low=("product_views", "session_minutes")),
    Name("high-intent-explorer", "High-intent explorer",
         "Views many products and also adds to cart: shopping seriously across the range.",
         "Recommend complementary items and show stock and delivery promises.",
         high=("product_views", "cart_adds")),
    Name("deal-hunter", "Deal hunter",
         "Goes to sale and deal pages much more than the average session.",
         "Lead with promotions, bundles and limited-time offers.",
         high=("deal_views",)),
    Name("checkout-bound", "Checkout-bound shopper",
         "Moves through checkout steps: close to a purchase.",
         "Reassure (returns, payment options) and avoid distractions on checkout pages.",
         high=("checkout_steps",)),
    Name("cart-abandoner", "Possible cart abandoner",
         "Builds a cart but has not reached checkout.",
         "Cart reminders, free-shipping thresholds, saved-cart prompts.",
         high=("cart_adds",), low=("checkout_steps",)),
    Name("cart-editor", "Cart editor",
         "Removes items from the cart often: weighing options or trimming the total.",
         "Show alternatives and 'save for later' rather than losing the item.",
         high=("cart_removes",)),
    Name("search-led-browser", "Search-led browser",
         "Navigates mainly by searching.",
         "Improve search ranking and autocomplete; show top results with filters.",
         high=("searches",)),
    Name("review-reader", "Review reader",
         "Reads product reviews far more than the average session.",
         "Show ratings, review highlights and Q&A near the buy button.",
         high=("review_views",)),
    Name("wishlist-curator", "Wishlist curator",
         "Saves products to a wishlist: planning a later purchase.",
         "Wishlist reminders, price-drop and back-in-stock notices.",
         high=("wishlist_adds",)),
    Name("careful-reader", "Careful reader",
         "Spends a long time on each product page.",
         "Rich product content: size guides, videos, detailed specifications.",
         high=("dwell_per_product_s",)),
    Name("category-browser", "Category browser",
         "Browses many categories and listings rather than individual products.",
         "Curated collections, category landing pages and visual merchandising.",
         any_high=("category_views", "distinct_categories"), low=("product_views",)),
    Name("product-explorer", "Product explorer",
         "Views many different products without adding to cart.",
         "Recommendations and 'recently viewed' to help narrow the choice.",
         any_high=("product_views", "distinct_products"), low=("cart_adds",)),
    Name("returning-viewer", "Returning viewer",
         "Keeps coming back to products already seen.",
         "Remind them of viewed items; answer the objection (price, delivery, fit).",
         high=("revisit_rate",)),
    Name("long-session-browser", "Long-session browser",
         "Stays in the shop much longer than the average session.",
         "Inspiration content, new arrivals and editorial pages.",
         high=("session_minutes",)),
)

CASUAL = Name("casual-browser", "Casual browser",
              "Does less of everything than the average session: a light, early-stage visit.",
              "Broad best-sellers and newsletter sign-up rather than hard selling.")


@dataclass(frozen=True, slots=True)
class ClassName:
    """What a class is called (after any renaming)."""

    slug: str
    display_name: str
    description: str
    suggested_use: str


def _entry_score(entry: Name, z: Mapping[str, float]) -> float:
    """How well a centroid profile fits an entry; ``-inf`` when it does not qualify."""
    high = [z[s] for s in entry.high if s in z]
    any_high = [z[s] for s in entry.any_high if s in z]
    low = [z[s] for s in entry.low if s in z]
    if not high and not any_high:
        return -math.inf
    if any(v < HIGH for v in high) or (any_high and max(any_high) < HIGH):
        return -math.inf
    if any(v > NOT_HIGH for v in low):
        return -math.inf
    parts = high + ([max(any_high)] if any_high else [])
    score = min(parts)
    if low:  # being clearly low where the entry says so is further evidence
        score += 0.25 * min(1.0, -sum(low) / len(low))
    return score


def _casual_score(z: Mapping[str, float]) -> float:
    activity = [z[s] for s in ACTIVITY if s in z] or list(z.values())
    if max(activity) > NOT_HIGH or sum(activity) / len(activity) >= 0.0:
        return -math.inf
    return -sum(activity) / len(activity)


def _fallback_name(z: Mapping[str, float]) -> ClassName:
    """A class the vocabulary does not describe: named after its most distinctive signal."""
    signal, value = max(z.items(), key=lambda kv: (abs(kv[1]), kv[0]))
    more = value >= 0
    human = signal.replace("_", " ")
    return ClassName(
        slug=f"{'more' if more else 'fewer'}-{signal.replace('_', '-')}",
        display_name=f"{'More' if more else 'Fewer'} {human}",
        description=f"Distinguished mainly by {'more' if more else 'fewer'} {human} than the "
                    "average session; no vocabulary name fits this profile.",
        suggested_use="Inspect the rules and characteristics before targeting this segment.",
    )


def _unique(slug: str, used: set[str]) -> str:
    candidate, n = slug, 2
    while candidate in used:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


def name_classes(
    centroids_z: npt.NDArray[np.float64], feature_names: Sequence[str]
) -> list[ClassName]:
    """A unique name per class from its centroid in standard units ``(k, d)``.

    Greedy over all (class, entry) pairs, best score first: each class takes its best free entry;
    a class no entry fits is named after its most distinctive signal (``more-searches``).
    """
    profiles = [dict(zip(feature_names, row.tolist(), strict=True)) for row in centroids_z]
    entries = (*VOCABULARY, CASUAL)
    pairs: list[tuple[float, int, int]] = []
    for ci, z in enumerate(profiles):
        for ei, entry in enumerate(entries):
            s = _casual_score(z) if entry is CASUAL else _entry_score(entry, z)
            if s > -math.inf:
                pairs.append((-s, ei, ci))
    pairs.sort()
    chosen: dict[int, Name] = {}
    taken: set[int] = set()
    for _, ei, ci in pairs:
        if ci in chosen or ei in taken:
            continue
        chosen[ci] = entries[ei]
        taken.add(ei)
    names: list[ClassName] = []
    used: set[str] = set()
    for ci, z in enumerate(profiles):
        picked = chosen.get(ci)
        name = (ClassName(picked.slug, picked.display_name, picked.description,
                          picked.suggested_use)
                if picked is not None else _fallback_name(z))
        slug = _unique(name.slug, used)
        used.add(slug)
        names.append(replace(name, slug=slug) if slug != name.slug else name)
    return names


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
        out[i] = replace(out[i], **{k: v.strip() for k, v in fields.items()})
    slugs = [n.slug for n in out]
    for s in slugs:
        if not _valid_slug(s):
            raise ValueError(f"labels: slug {s!r} must be lowercase letters, digits and '-'")
        if slugs.count(s) > 1:
            raise ValueError(f"labels: slug {s!r} is used by more than one class")
    return out


def _valid_slug(slug: str) -> bool:
    ok = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return (0 < len(slug) <= 63 and slug[0] != "-" and set(slug) <= ok
            and slug != "undetermined")


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
