"""Route preset for Shopware 6 (Storefront).

Verified rows are Shopware's Storefront routes, fixed in its controllers whatever the SEO
settings: ``/detail/{productId}``, ``/navigation/{categoryId}``, ``/search?search=``,
``/suggest`` (the search box's XHR), ``POST /checkout/line-item/add``,
``POST /checkout/line-item/delete/{id}``, ``/checkout/confirm``, ``POST /checkout/order``,
``/checkout/finish``, ``POST /wishlist/add/{productId}``, ``/widgets/**`` XHRs, and the default
listing sortings ``order=price-asc|price-desc`` with the ``min-price``/``max-price`` filters.
Rows marked *not verified*: none of the SEO URLs (``/{Product-Name}/{productNumber}``,
``/{Category}/{Sub}/``) is claimed, because their shape is any shop's; ``intentgate routes
suggest`` finds them in a shop's own log.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: Storefront routes ----------------------------------------------------------
    {"name": "shopware:detail", "kind": "product_view", "path": "/detail/{product}"},
    {"name": "shopware:navigation", "kind": "category_view", "path": "/navigation/{category}"},
    {"name": "shopware:search", "kind": "search", "path": "/search", "query": {"search": "*"},
     "capture": {"query": "search"}},
    {"name": "shopware:suggest", "kind": "ignore", "method": "*", "path": "/suggest"},
    {"name": "shopware:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"order": "price-asc|price-desc"}},
    {"name": "shopware:filter-min-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"min-price": "*"}},
    {"name": "shopware:filter-max-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"max-price": "*"}},
    {"name": "shopware:line-item-add", "kind": "cart_add", "method": "POST",
     "path": "/checkout/line-item/add"},
    {"name": "shopware:line-item-delete", "kind": "cart_remove", "method": ("POST", "DELETE"),
     "path": "/checkout/line-item/delete/*"},
    {"name": "shopware:confirm", "kind": "checkout_step", "path": "/checkout/confirm"},
    {"name": "shopware:register", "kind": "checkout_step", "path": "/checkout/register"},
    {"name": "shopware:order", "kind": "checkout_step", "method": "POST",
     "path": "/checkout/order"},
    {"name": "shopware:finish", "kind": "purchase", "path": "/checkout/finish"},
    {"name": "shopware:wishlist-add", "kind": "wishlist_add", "method": "POST",
     "path": "/wishlist/add/{product}"},
    {"name": "shopware:widgets", "kind": "ignore", "method": "*", "path": "/widgets/**"},
    {"name": "shopware:offcanvas-cart", "kind": "ignore", "method": "*",
     "path": "/checkout/offcanvas"},
)
