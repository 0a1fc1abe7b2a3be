"""Shopper event kinds and the event value object shared by routes, state, replay and recording.

Pure data: no I/O, no clock. ``EventKind`` is an ``IntEnum`` so a kind indexes its counter slot.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class EventKind(IntEnum):
    PRODUCT_VIEW = 0
    CATEGORY_VIEW = 1
    SEARCH = 2
    COMPARE = 3
    CART_ADD = 4
    CART_REMOVE = 5
    CHECKOUT_STEP = 6
    PURCHASE = 7
    PRICE_SORT_OR_FILTER = 8
    DEAL_VIEW = 9
    REVIEW_VIEW = 10
    WISHLIST_ADD = 11
    DWELL = 12
    # Any other storefront page: counts for dwell and the bot rate, no counter of its own.
    PAGE_VIEW = 13

    @property
    def slug(self) -> str:
        return _SLUGS[self]

    @classmethod
    def from_slug(cls, slug: str) -> EventKind:
        """``"product_view"`` -> ``EventKind.PRODUCT_VIEW``; ``ValueError`` names a bad slug."""
        try:
            return _BY_SLUG[slug]
        except KeyError:
            raise ValueError(f"unknown event kind {slug!r}") from None


N_KINDS = len(EventKind)
_SLUGS = {k: k.name.lower() for k in EventKind}
_BY_SLUG = {v: k for k, v in _SLUGS.items()}

# Kinds that are a page the shopper looks at (they start a dwell interval).
PAGE_KINDS = frozenset(
    {
        EventKind.PRODUCT_VIEW,
        EventKind.CATEGORY_VIEW,
        EventKind.SEARCH,
        EventKind.COMPARE,
        EventKind.DEAL_VIEW,
        EventKind.REVIEW_VIEW,
        EventKind.PAGE_VIEW,
        EventKind.PRICE_SORT_OR_FILTER,
    }
)


class ShopperEvent(NamedTuple):
    """One thing a shopper did.

    ``ts`` is seconds since the epoch (float). ``product``/``category``/``query`` are captured text
    or ``None``; ``value`` carries a number where the kind has one (dwell milliseconds, compare
    count, checkout step).
    """

    kind: EventKind
    ts: float
    product: str | None = None
    category: str | None = None
    query: str | None = None
    value: float = 0.0
