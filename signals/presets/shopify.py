"""Route preset for Shopify Online Store 2.0 themes (Dawn and descendants) and the AJAX Cart API.

Verified rows are Shopify's fixed storefront routes (``/products``, ``/collections``, ``/search``,
``/cart/*.js``, ``/checkouts``), which a shop cannot rename. Rows marked *not verified* are
conventions a shop may not follow (a ``sale`` collection). Markets subfolders (``/en-ca/...``)
are covered for product, collection and search pages. Request bodies are never read: an AJAX
cart change counts as a removal only when ``quantity=0`` is in its URL.
"""

from __future__ import annotations

from typing import Any

_PRICE_SORT = "price-ascending|price-descending"

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: storefront routes -------------------------------------------------------
    {"name": "shopify:product", "kind": "product_view", "path": "/products/{product}"},
    {"name": "shopify:product-in-collection", "kind": "product_view",
     "path": "/collections/{category}/products/{product}"},
    {"name": "shopify:collection", "kind": "category_view", "path": "/collections/{category}"},
    {"name": "shopify:collection-sort-price", "kind": "price_sort_or_filter",
     "path": "/collections/{category}", "query": {"sort_by": _PRICE_SORT}},
    {"name": "shopify:collection-filter-price", "kind": "price_sort_or_filter",
     "path": "/collections/{category}", "query": {"filter.v.price.*": "*"}},
    {"name": "shopify:search", "kind": "search", "path": "/search", "query": {"q": "*"},
     "capture": {"query": "q"}},
    {"name": "shopify:search-sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/search", "query": {"q": "*", "sort_by": _PRICE_SORT}, "capture": {"query": "q"}},
    # Markets subfolders: /fr/products/x, /en-ca/collections/y, /de/search?q=z
    {"name": "shopify:market-product", "kind": "product_view", "path": "/*/products/{product}"},
    {"name": "shopify:market-collection", "kind": "category_view",
     "path": "/*/collections/{category}"},
    {"name": "shopify:market-search", "kind": "search", "path": "/*/search", "query": {"q": "*"},
     "capture": {"query": "q"}},
    # Predictive search and recommendations are XHRs fired while typing / on every product page.
    {"name": "shopify:predictive-search", "kind": "ignore", "method": "*",
     "path": "/search/suggest/**"},
    {"name": "shopify:recommendations", "kind": "ignore", "method": "*",
     "path": "/recommendations/**"},
    # --- verified: AJAX Cart API and cart permalinks ---------------------------------------
    {"name": "shopify:cart-add-js", "kind": "cart_add", "method": "POST", "path": "/cart/add.js",
     "capture": {"product": "id", "value": "quantity"}},
    {"name": "shopify:cart-add", "kind": "cart_add", "method": ("GET", "POST"),
     "path": "/cart/add", "capture": {"product": "id", "value": "quantity"}},
    {"name": "shopify:cart-change-js-zero", "kind": "cart_remove", "method": "POST",
     "path": "/cart/change.js", "query": {"quantity": "0"}, "capture": {"product": "id"}},
    {"name": "shopify:cart-change-zero", "kind": "cart_remove", "method": ("GET", "POST"),
     "path": "/cart/change", "query": {"quantity": "0"}, "capture": {"product": "id"}},
    {"name": "shopify:cart-clear", "kind": "cart_remove", "method": "POST",
     "path": "/cart/clear.js"},
    # update.js sets quantities (up or down) in its body: not an add or a removal we can see.
    {"name": "shopify:cart-update", "kind": "ignore", "method": "POST", "path": "/cart/update.js"},
    # --- verified: checkout (on the shop's domain since 2021) -------------------------------
    {"name": "shopify:checkout", "kind": "checkout_step", "path": "/checkout"},
    {"name": "shopify:checkouts", "kind": "checkout_step", "path": "/checkouts/**"},
    {"name": "shopify:thank-you", "kind": "purchase", "path": "/checkouts/**/thank_you"},
    {"name": "shopify:thank-you-new", "kind": "purchase", "path": "/checkouts/**/thank-you"},
    {"name": "shopify:legacy-checkout", "kind": "checkout_step", "path": "/*/checkouts/**"},
    {"name": "shopify:legacy-thank-you", "kind": "purchase", "path": "/*/checkouts/**/thank_you"},
    # --- not verified: shop conventions, not platform routes -------------------------------
    {"name": "shopify:sale-collection", "kind": "deal_view", "path": "/collections/sale"},
    {"name": "shopify:checkout-api", "kind": "ignore", "method": "*",
     "path": "/checkouts/unstable/**"},
)
