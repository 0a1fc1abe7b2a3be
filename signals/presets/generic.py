"""Route preset for a generic JSON/REST shop backend under ``/api`` (optionally versioned).

Not a platform: this is intentgate's documented convention for custom shops (every row is by
definition *not verified* against any particular shop). ``/api/products/12`` and
``/api/v2/products/12`` both match; other ``/api`` calls are XHRs, never page views.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    {"name": "generic:product", "kind": "product_view", "path": "/api/**/products/{product}"},
    {"name": "generic:reviews", "kind": "review_view",
     "path": "/api/**/products/{product}/reviews"},
    {"name": "generic:category", "kind": "category_view",
     "path": "/api/**/categories/{category}"},
    {"name": "generic:category-products", "kind": "category_view",
     "path": "/api/**/categories/{category}/products"},
    {"name": "generic:products-by-category", "kind": "category_view", "path": "/api/**/products",
     "query": {"category": "*"}, "capture": {"category": "category"}},
    {"name": "generic:search", "kind": "search", "path": "/api/**/search", "query": {"q": "*"},
     "capture": {"query": "q"}},
    {"name": "generic:products-search", "kind": "search", "path": "/api/**/products",
     "query": {"q": "*"}, "capture": {"query": "q"}},
    {"name": "generic:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/api/**", "query": {"sort": "price*|-price*"}},
    {"name": "generic:filter-min-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/api/**", "query": {"min_price": "*"}},
    {"name": "generic:filter-max-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/api/**", "query": {"max_price": "*"}},
    {"name": "generic:compare", "kind": "compare", "path": "/api/**/compare",
     "capture": {"items": "ids"}},
    {"name": "generic:deals", "kind": "deal_view", "path": "/api/**/deals"},
    {"name": "generic:cart-add", "kind": "cart_add", "method": "POST",
     "path": "/api/**/cart/items"},
    {"name": "generic:cart-remove", "kind": "cart_remove", "method": "DELETE",
     "path": "/api/**/cart/items/{product}"},
    {"name": "generic:checkout", "kind": "checkout_step", "method": ("POST", "PUT", "PATCH"),
     "path": "/api/**/checkout/**"},
    {"name": "generic:order", "kind": "purchase", "method": "POST", "path": "/api/**/orders"},
    {"name": "generic:wishlist", "kind": "wishlist_add", "method": "POST",
     "path": "/api/**/wishlist/items"},
    {"name": "generic:other", "kind": "ignore", "method": "*", "path": "/api/**"},
)
