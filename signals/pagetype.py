"""Page types read from the first bytes of an HTML response: machine-readable markup that shops
put there for search engines and link previews.

Pure: bytes in, an event kind (or ``None``) out. Read, in order: schema.org JSON-LD ``@type``
(``Product`` → ``product_view``; ``SearchResultsPage`` → ``search``; ``ItemList``,
``CollectionPage``, ``OfferCatalog`` → ``category_view``), schema.org microdata ``itemtype`` (the
same types), then Open Graph ``og:type`` (``product``, ``og:product``, ``product.item`` →
``product_view``), then an add-to-cart form (a ``<form`` whose ``action`` names a cart) on the
page → ``product_view``. Never a purchase or a cart event: markup only names pages.
"""

from __future__ import annotations

import re

MAX_BYTES = 16 * 1024  # how much of a response is read

_TYPES = {
    "product": "product_view", "productgroup": "product_view", "individualproduct": "product_view",
    "searchresultspage": "search",
    "itemlist": "category_view", "collectionpage": "category_view",
    "offercatalog": "category_view",
}
_JSONLD_TYPE = re.compile(rb'"@type"\s*:\s*\[?\s*"(?:https?://schema\.org/)?([A-Za-z]+)"')
_ITEMTYPE = re.compile(rb'itemtype\s*=\s*["\']https?://schema\.org/([A-Za-z]+)', re.I)
_OG_TYPE = re.compile(
    rb'<meta[^>]+(?:property|name)\s*=\s*["\']og:type["\'][^>]*content\s*=\s*["\']([^"\']+)'
    rb'|<meta[^>]+content\s*=\s*["\']([^"\']+)["\'][^>]*(?:property|name)\s*=\s*["\']og:type',
    re.I)
_CART_FORM = re.compile(
    rb'<form[^>]+action\s*=\s*["\'][^"\']*(?:cart|basket|bag|panier|warenkorb|line-item)'
    rb'[^"\']*["\']', re.I)


def page_kind(body: bytes) -> str | None:
    """The event kind the page's markup names, or ``None``."""
    head = body[:MAX_BYTES]
    for pattern in (_JSONLD_TYPE, _ITEMTYPE):
        for m in pattern.finditer(head):
            name = m.group(1).decode("ascii", "replace").lower()
            if name in _TYPES:
                return _TYPES[name]
    og = _OG_TYPE.search(head)
    if og is not None:
        value = (og.group(1) or og.group(2) or b"").decode("ascii", "replace").lower()
        if value in ("product", "og:product", "product.item", "product.group"):
            return "product_view"
    if _CART_FORM.search(head):
        return "product_view"
    return None
