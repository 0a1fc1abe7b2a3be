"""Route preset for WooCommerce (classic templates, the ``wc-ajax`` endpoints and the Store API).

Verified rows are WooCommerce behaviour that does not depend on settings (``?add-to-cart=``,
``wc-ajax`` actions, ``orderby`` values, the price filter's ``min_price``/``max_price``, plain
permalinks ``?product=``, Store API routes). Rows marked *not verified* use the default
permalink bases and page slugs (``/product/``, ``/product-category/``, ``/checkout/``, ``/shop/``),
which a shop may rename in Settings → Permalinks and Advanced, or a plugin's parameters.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: query parameters WooCommerce reads on any URL -----------------------------
    {"name": "woo:search", "kind": "search", "path": "/**",
     "query": {"s": "*", "post_type": "product"}, "capture": {"query": "s"}},
    {"name": "woo:plain-product", "kind": "product_view", "path": "/",
     "query": {"product": "*"}, "capture": {"product": "product"}},
    {"name": "woo:plain-category", "kind": "category_view", "path": "/",
     "query": {"product_cat": "*"}, "capture": {"category": "product_cat"}},
    {"name": "woo:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"orderby": "price|price-desc"}},
    {"name": "woo:filter-min-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"min_price": "*"}},
    {"name": "woo:filter-max-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"max_price": "*"}},
    {"name": "woo:add-to-cart", "kind": "cart_add", "method": ("GET", "POST"), "path": "/**",
     "query": {"add-to-cart": "*"}, "capture": {"product": "add-to-cart", "value": "quantity"}},
    {"name": "woo:ajax-add", "kind": "cart_add", "method": "POST", "path": "/**",
     "query": {"wc-ajax": "add_to_cart"}},
    {"name": "woo:ajax-remove", "kind": "cart_remove", "method": "POST", "path": "/**",
     "query": {"wc-ajax": "remove_from_cart"}},
    {"name": "woo:remove-item", "kind": "cart_remove", "path": "/**",
     "query": {"remove_item": "*"}},
    {"name": "woo:ajax-checkout", "kind": "checkout_step", "method": "POST", "path": "/**",
     "query": {"wc-ajax": "checkout"}},
    # Other wc-ajax calls (get_refreshed_fragments on every page, update_order_review...).
    {"name": "woo:ajax-other", "kind": "ignore", "method": "*", "path": "/**",
     "query": {"wc-ajax": "*"}, "priority": -1},
    # Store API (block cart and checkout).
    {"name": "woo:store-add", "kind": "cart_add", "method": "POST",
     "path": "/wp-json/wc/store/**/cart/add-item"},
    {"name": "woo:store-remove", "kind": "cart_remove", "method": "POST",
     "path": "/wp-json/wc/store/**/cart/remove-item"},
    {"name": "woo:store-checkout", "kind": "checkout_step", "method": "POST",
     "path": "/wp-json/wc/store/**/checkout"},
    {"name": "woo:rest", "kind": "ignore", "method": "*", "path": "/wp-json/**"},
    {"name": "woo:admin", "kind": "ignore", "method": "*", "path": "/wp-admin/**"},
    {"name": "woo:wp-content", "kind": "ignore", "method": "*", "path": "/wp-content/**"},
    # --- not verified: default permalink bases and page slugs --------------------------------
    {"name": "woo:product", "kind": "product_view", "path": "/product/{product}"},
    {"name": "woo:category", "kind": "category_view", "path": "/product-category/**/{category}"},
    {"name": "woo:category-paged", "kind": "category_view",
     "path": "/product-category/**/{category}/page/*"},
    {"name": "woo:tag", "kind": "category_view", "path": "/product-tag/{category}"},
    {"name": "woo:shop", "kind": "category_view", "path": "/shop"},
    # The single-product form posts add-to-cart in its body to the product permalink.
    {"name": "woo:product-form-add", "kind": "cart_add", "method": "POST",
     "path": "/product/{product}"},
    {"name": "woo:checkout", "kind": "checkout_step", "path": "/checkout"},
    {"name": "woo:order-pay", "kind": "checkout_step", "path": "/checkout/order-pay/**"},
    {"name": "woo:order-received", "kind": "purchase", "path": "/checkout/order-received/**"},
    # YITH WooCommerce Wishlist, the most installed wishlist plugin.
    {"name": "woo:yith-wishlist", "kind": "wishlist_add", "method": ("GET", "POST"),
     "path": "/**", "query": {"add_to_wishlist": "*"}, "capture": {"product": "add_to_wishlist"}},
)
