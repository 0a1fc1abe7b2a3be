"""Route preset for PrestaShop 1.7 / 8 (classic theme, faceted search module).

Verified rows rest on PrestaShop's front controllers, which every shop answers whatever its URL
settings: ``index.php?controller=product&id_product=N``, ``controller=category``,
``controller=search&s=``, ``controller=cart`` with ``add=1`` / ``delete=1``, ``controller=order``
and ``controller=order-confirmation``; the faceted search's ``order=product.price.asc|desc``.
Rows marked *not verified* use the default friendly-URL routes (``/cart``, ``/order``,
``/order-confirmation``, ``/prices-drop``, ``/{category}/{id}-{rewrite}.html``), which a shop may
rename under Shop Parameters → Traffic & SEO. Friendly category URLs (``/3-clothes``) have the
shape of any one-segment page, so no row claims them: ``intentgate routes suggest`` finds them.
"""

from __future__ import annotations

from typing import Any

_FRONT = "/index.php"

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: front controllers (friendly URLs off, and links that keep the query) -----
    {"name": "prestashop:product", "kind": "product_view", "path": _FRONT,
     "query": {"controller": "product", "id_product": "*"}, "capture": {"product": "id_product"}},
    {"name": "prestashop:category", "kind": "category_view", "path": _FRONT,
     "query": {"controller": "category", "id_category": "*"},
     "capture": {"category": "id_category"}},
    {"name": "prestashop:search", "kind": "search", "path": _FRONT,
     "query": {"controller": "search", "s": "*"}, "capture": {"query": "s"}},
    {"name": "prestashop:friendly-search", "kind": "search", "path": "/search",
     "query": {"controller": "search", "s": "*"}, "capture": {"query": "s"}},
    {"name": "prestashop:cart-add", "kind": "cart_add", "method": ("GET", "POST"), "path": _FRONT,
     "query": {"controller": "cart", "add": "1"}, "capture": {"product": "id_product"}},
    {"name": "prestashop:cart-delete", "kind": "cart_remove", "method": ("GET", "POST"),
     "path": _FRONT, "query": {"controller": "cart", "delete": "1"},
     "capture": {"product": "id_product"}},
    {"name": "prestashop:order", "kind": "checkout_step", "method": ("GET", "POST"),
     "path": _FRONT, "query": {"controller": "order"}},
    {"name": "prestashop:order-confirmation", "kind": "purchase", "path": _FRONT,
     "query": {"controller": "order-confirmation"}},
    {"name": "prestashop:prices-drop", "kind": "deal_view", "path": _FRONT,
     "query": {"controller": "prices-drop"}},
    {"name": "prestashop:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"order": "product.price.*"}},
    # --- not verified: default friendly URLs -------------------------------------------------
    {"name": "prestashop:friendly-cart-add", "kind": "cart_add", "method": ("GET", "POST"),
     "path": "/cart", "query": {"add": "1"}, "capture": {"product": "id_product"}},
    {"name": "prestashop:friendly-cart-delete", "kind": "cart_remove",
     "method": ("GET", "POST"), "path": "/cart", "query": {"delete": "1"},
     "capture": {"product": "id_product"}},
    {"name": "prestashop:friendly-confirmation", "kind": "purchase",
     "path": "/order-confirmation", "query": {"id_order": "*"}},
    {"name": "prestashop:friendly-prices-drop", "kind": "deal_view", "path": "/prices-drop"},
)

# Used when the shop names this preset, left out of "auto": the shape also fits other platforms'
# pages (Magento's *.html categories, a Shopify cart form's POST /cart). Not verified.
EXPLICIT_RULES: tuple[dict[str, Any], ...] = (
    # The product page's add-to-cart form posts to /cart with add=1 in its body.
    {"name": "prestashop:friendly-cart-post", "kind": "cart_add", "method": "POST",
     "path": "/cart", "priority": -1},
    {"name": "prestashop:friendly-order", "kind": "checkout_step", "method": ("GET", "POST"),
     "path": "/order"},
    {"name": "prestashop:friendly-product", "kind": "product_view",
     "path": "/**/{product}.html", "priority": -1},
)
