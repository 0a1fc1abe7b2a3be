"""Route preset for OpenCart 3.x and 4.x.

Verified rows are OpenCart's ``index.php?route=`` controllers, answered whatever the SEO URL
setting: ``product/product&product_id=``, ``product/category&path=``, ``product/search&search=``,
``product/special``, ``product/compare``, the cart's ``checkout/cart/add`` (3.x) and
``checkout/cart.add`` (4.0.2+), ``checkout/checkout``, ``checkout/success``, the wishlist's
``account/wishlist/add`` / ``account/wishlist.add``, and the listing sort ``sort=p.price``.
OpenCart 4.0.0-4.0.1 separate methods with ``|`` (``checkout/cart|add``), which a query
condition cannot name: those versions need a rule of their own, as does a shop installed in a
subfolder (``/shop/index.php``): the rows name ``/index.php`` only, so that they are looked up by
their first segment rather than tried on every request. Rows marked *not verified*:
SEO URLs (keywords per product and category) are a shop's own, so none is claimed;
``intentgate routes suggest`` finds them.
"""

from __future__ import annotations

from typing import Any

_FRONT = "/index.php"  # a shop in a subfolder adds its own rules (see docs/storefronts.md)

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: route= controllers ---------------------------------------------------------
    {"name": "opencart:product", "kind": "product_view", "path": _FRONT,
     "query": {"route": "product/product", "product_id": "*"},
     "capture": {"product": "product_id"}},
    {"name": "opencart:category", "kind": "category_view", "path": _FRONT,
     "query": {"route": "product/category", "path": "*"}, "capture": {"category": "path"}},
    {"name": "opencart:search", "kind": "search", "path": _FRONT,
     "query": {"route": "product/search", "search": "*"}, "capture": {"query": "search"}},
    {"name": "opencart:special", "kind": "deal_view", "path": _FRONT,
     "query": {"route": "product/special"}},
    {"name": "opencart:compare", "kind": "compare", "path": _FRONT,
     "query": {"route": "product/compare"}},
    {"name": "opencart:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": _FRONT, "query": {"sort": "p.price"}},
    {"name": "opencart:cart-add", "kind": "cart_add", "method": "POST", "path": _FRONT,
     "query": {"route": "checkout/cart/add|checkout/cart.add"}},
    {"name": "opencart:cart-remove", "kind": "cart_remove", "method": "POST", "path": _FRONT,
     "query": {"route": "checkout/cart/remove|checkout/cart.remove"}},
    {"name": "opencart:checkout", "kind": "checkout_step", "method": ("GET", "POST"),
     "path": _FRONT, "query": {"route": "checkout/checkout"}},
    {"name": "opencart:confirm", "kind": "checkout_step", "method": ("GET", "POST"),
     "path": _FRONT, "query": {"route": "checkout/confirm*"}},
    {"name": "opencart:success", "kind": "purchase", "path": _FRONT,
     "query": {"route": "checkout/success"}},
    {"name": "opencart:wishlist-add", "kind": "wishlist_add", "method": "POST", "path": _FRONT,
     "query": {"route": "account/wishlist/add|account/wishlist.add"}},
    # The reviews block loads by XHR on every product page: not a review view of its own.
    {"name": "opencart:review-xhr", "kind": "ignore", "method": "*", "path": _FRONT,
     "query": {"route": "product/product/review*"}},
)
