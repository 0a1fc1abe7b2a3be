"""Route preset for BigCommerce Stencil themes (Cornerstone and descendants).

Verified rows are BigCommerce's fixed storefront endpoints (``/cart.php``, ``/search.php``,
``/compare/``, ``/wishlist.php``, ``/remote/v1/cart/*`` used by stencil-utils, the Storefront
Cart API, Optimized One-Page Checkout) and Stencil's sort values. Product and category pages
live at shop-chosen SEO paths (``/blue-shirt/``); only the legacy default formats are covered,
as *not verified* rows, so a shop with short URLs adds its own rules.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    # --- verified ---------------------------------------------------------------------------
    {"name": "bigcommerce:product-php", "kind": "product_view", "path": "/products.php",
     "query": {"productId": "*"}, "capture": {"product": "productId"}},
    {"name": "bigcommerce:search", "kind": "search", "path": "/search.php",
     "query": {"search_query": "*"}, "capture": {"query": "search_query"}},
    {"name": "bigcommerce:compare", "kind": "compare", "path": "/compare/{items+}"},
    {"name": "bigcommerce:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"sort": "priceasc|pricedesc"}},
    {"name": "bigcommerce:filter-price-min", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"price_min": "*"}},
    {"name": "bigcommerce:filter-price-max", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"price_max": "*"}},
    {"name": "bigcommerce:cart-php-add", "kind": "cart_add", "method": ("GET", "POST"),
     "path": "/cart.php", "query": {"action": "add"},
     "capture": {"product": "product_id", "value": "qty"}},
    {"name": "bigcommerce:remote-cart-add", "kind": "cart_add", "method": "POST",
     "path": "/remote/v1/cart/add"},
    {"name": "bigcommerce:api-cart-create", "kind": "cart_add", "method": "POST",
     "path": "/api/storefront/carts"},
    {"name": "bigcommerce:api-cart-items", "kind": "cart_add", "method": "POST",
     "path": "/api/storefront/carts/*/items"},
    {"name": "bigcommerce:api-cart-remove", "kind": "cart_remove", "method": "DELETE",
     "path": "/api/storefront/carts/*/items/*"},
    {"name": "bigcommerce:checkout", "kind": "checkout_step", "path": "/checkout"},
    {"name": "bigcommerce:order-confirmation", "kind": "purchase",
     "path": "/checkout/order-confirmation/**"},
    {"name": "bigcommerce:finishorder", "kind": "purchase", "path": "/finishorder.php"},
    {"name": "bigcommerce:wishlist-add", "kind": "wishlist_add", "method": ("GET", "POST"),
     "path": "/wishlist.php", "query": {"action": "add"}, "capture": {"product": "product_id"}},
    # Theme XHRs (option changes, cart totals, checkout API) are not pages.
    {"name": "bigcommerce:remote", "kind": "ignore", "method": "*", "path": "/remote/**"},
    {"name": "bigcommerce:api", "kind": "ignore", "method": "*", "path": "/api/storefront/**"},
    # --- not verified -----------------------------------------------------------------------
    # Quantity updates go through /remote/v1/cart/update with the quantity in the body; a
    # removal link on older themes is /cart.php?action=remove.
    {"name": "bigcommerce:cart-php-remove", "kind": "cart_remove", "method": ("GET", "POST"),
     "path": "/cart.php", "query": {"action": "remove"}},
    # Legacy default SEO formats: /products/Product-Name.html and /categories/Name/.
    {"name": "bigcommerce:legacy-product", "kind": "product_view",
     "path": "/products/{product}.html"},
    {"name": "bigcommerce:legacy-category", "kind": "category_view",
     "path": "/categories/**/{category}"},
)
