"""Route preset for intentgate's demo storefront (Shopify-style URLs); mirrors its scheme exactly.

Every row is verified: the demo storefront is ours (see the URL scheme in DESIGN/the lead's brief).
The proxy never reads request bodies, so a cart change counts as a removal only when
``quantity=0`` is in the query string; form-only changes produce no event.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    {"name": "demo:category", "kind": "category_view", "path": "/collections/{category}"},
    {"name": "demo:price-sort", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/collections/{category}", "query": {"sort_by": "price-ascending|price-descending"}},
    {"name": "demo:price-filter", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/collections/{category}", "query": {"filter.v.price.*": "*"}},
    {"name": "demo:sale", "kind": "deal_view", "path": "/collections/sale"},
    {"name": "demo:sale-page", "kind": "deal_view", "path": "/pages/sale"},
    {"name": "demo:product", "kind": "product_view", "path": "/products/{product}"},
    {"name": "demo:reviews", "kind": "review_view", "path": "/products/{product}/reviews"},
    {"name": "demo:search", "kind": "search", "path": "/search", "query": {"q": "*"},
     "capture": {"query": "q"}},
    {"name": "demo:compare", "kind": "compare", "path": "/pages/compare",
     "query": {"products": "*"}, "capture": {"items": "products"}},
    {"name": "demo:cart-add", "kind": "cart_add", "method": "POST", "path": "/cart/add",
     "capture": {"product": "id"}},
    {"name": "demo:cart-add-js", "kind": "cart_add", "method": "POST", "path": "/cart/add.js",
     "capture": {"product": "id"}},
    {"name": "demo:cart-change-zero", "kind": "cart_remove", "method": "POST",
     "path": "/cart/change.js", "query": {"quantity": "0"}, "capture": {"product": "id"}},
    {"name": "demo:cart-remove", "kind": "cart_remove", "method": "POST", "path": "/cart/remove",
     "capture": {"product": "id"}},
    {"name": "demo:checkout", "kind": "checkout_step", "method": ("GET", "POST"),
     "path": "/checkout"},
    {"name": "demo:thank-you", "kind": "purchase", "path": "/checkout/thank-you"},
    {"name": "demo:wishlist", "kind": "wishlist_add", "method": "POST", "path": "/wishlist/add",
     "capture": {"product": "id"}},
    {"name": "demo:assets", "kind": "ignore", "method": "*", "path": "/assets/**"},
)
