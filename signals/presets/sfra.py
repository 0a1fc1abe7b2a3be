"""Route preset for Salesforce B2C Commerce, Storefront Reference Architecture (SFRA).

Verified rows are SFRA controller routes (``Controller-Action`` under
``/on/demandware.store/Sites-<site>-Site/<locale>/``) and their documented parameters (``pid``,
``q``, ``cgid``, ``pmin``/``pmax``, ``srule``), plus the plugin_wishlists route. Rows marked
*not verified* depend on a site's data or URL rules: the ``price-low-to-high`` /
``price-high-to-low`` sorting-rule ids of the reference data, and SEO URLs (``/s/<site>/...``).
"""

from __future__ import annotations

from typing import Any

_BASE = "/on/demandware.store/Sites-*-Site/*"

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: controller routes --------------------------------------------------------
    {"name": "sfra:product", "kind": "product_view", "path": f"{_BASE}/Product-Show",
     "capture": {"product": "pid"}},
    {"name": "sfra:quickview", "kind": "product_view", "path": f"{_BASE}/Product-ShowQuickView",
     "capture": {"product": "pid"}},
    {"name": "sfra:search", "kind": "search", "path": f"{_BASE}/Search-Show",
     "query": {"q": "*"}, "capture": {"query": "q", "category": "cgid"}},
    {"name": "sfra:category", "kind": "category_view", "path": f"{_BASE}/Search-Show",
     "query": {"cgid": "*"}, "capture": {"category": "cgid"}},
    {"name": "sfra:price-refine-min", "kind": "price_sort_or_filter", "priority": 1,
     "path": f"{_BASE}/Search-*", "query": {"pmin": "*"}, "capture": {"category": "cgid"}},
    {"name": "sfra:price-refine-max", "kind": "price_sort_or_filter", "priority": 1,
     "path": f"{_BASE}/Search-*", "query": {"pmax": "*"}, "capture": {"category": "cgid"}},
    # Search-UpdateGrid / Search-ShowAjax re-render the grid while sorting and refining.
    {"name": "sfra:search-ajax", "kind": "ignore", "path": f"{_BASE}/Search-UpdateGrid"},
    {"name": "sfra:search-show-ajax", "kind": "ignore", "path": f"{_BASE}/Search-ShowAjax"},
    {"name": "sfra:suggestions", "kind": "ignore", "method": "*",
     "path": f"{_BASE}/SearchServices-GetSuggestions"},
    {"name": "sfra:compare", "kind": "compare", "path": f"{_BASE}/Compare-Show",
     "capture": {"items": "pids"}},
    {"name": "sfra:cart-add", "kind": "cart_add", "method": "POST",
     "path": f"{_BASE}/Cart-AddProduct", "capture": {"product": "pid"}},
    {"name": "sfra:cart-remove", "kind": "cart_remove", "method": ("GET", "POST"),
     "path": f"{_BASE}/Cart-RemoveProductLineItem", "capture": {"product": "pid"}},
    {"name": "sfra:checkout-begin", "kind": "checkout_step", "path": f"{_BASE}/Checkout-Begin"},
    {"name": "sfra:checkout-shipping", "kind": "checkout_step", "method": "POST",
     "path": f"{_BASE}/CheckoutShippingServices-SubmitShipping"},
    {"name": "sfra:checkout-services", "kind": "checkout_step", "method": "POST",
     "path": f"{_BASE}/CheckoutServices-*"},
    {"name": "sfra:order-confirm", "kind": "purchase", "method": ("GET", "POST"),
     "path": f"{_BASE}/Order-Confirm"},
    {"name": "sfra:wishlist-add", "kind": "wishlist_add", "method": "POST",
     "path": f"{_BASE}/Wishlist-AddProduct", "capture": {"product": "pid"}},
    # Other controller XHRs (Product-Variation, Cart-MiniCart, ConsentTracking...): not pages.
    {"name": "sfra:other-controller", "kind": "ignore", "method": "GET", "path": f"{_BASE}/*-*",
     "priority": -1},
    # --- not verified: reference-data sorting rules and SEO URLs ---------------------------
    {"name": "sfra:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": f"{_BASE}/Search-*", "query": {"srule": "price-*"}, "capture": {"category": "cgid"}},
    {"name": "sfra:sort-price-ajax", "kind": "price_sort_or_filter",
     "path": f"{_BASE}/Search-UpdateGrid", "query": {"srule": "price-*"},
     "capture": {"category": "cgid"}},
    {"name": "sfra:seo-product", "kind": "product_view", "path": "/s/*/**/{product}.html"},
    {"name": "sfra:seo-search", "kind": "search", "path": "/s/*/search", "query": {"q": "*"},
     "capture": {"query": "q"}},
)
