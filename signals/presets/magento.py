"""Route preset for Adobe Commerce / Magento 2 (Luma and Hyvä themes).

Magento serves SEO ``*.html`` URLs for both products and categories, so a path alone cannot tell
them apart; the verified rows use Magento's fixed ``frontName/controller/action`` routes, which
every shop answers (``/catalog/product/view/id/N``, ``/checkout/cart/add``, ...). The rows marked
*not verified* rest on admin defaults a shop may change (category paths in URLs, product URLs
without category path); shops with other settings add their own rules.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    # --- verified: catalog, search, compare -------------------------------------------------
    {"name": "magento:product", "kind": "product_view",
     "path": "/catalog/product/view/id/{product}/**"},
    {"name": "magento:category", "kind": "category_view",
     "path": "/catalog/category/view/id/{category}/**"},
    {"name": "magento:search", "kind": "search", "path": "/catalogsearch/result/**",
     "query": {"q": "*"}, "capture": {"query": "q"}},
    {"name": "magento:advanced-search", "kind": "search",
     "path": "/catalogsearch/advanced/result/**", "capture": {"query": "name"}},
    {"name": "magento:search-suggest", "kind": "ignore", "method": "*", "path": "/search/ajax/**"},
    {"name": "magento:compare-page", "kind": "compare", "path": "/catalog/product_compare"},
    {"name": "magento:compare-index", "kind": "compare",
     "path": "/catalog/product_compare/index/**"},
    {"name": "magento:compare-add", "kind": "compare", "method": "POST",
     "path": "/catalog/product_compare/add/**"},
    # Toolbar sort (?product_list_order=price) and layered price filter (?price=10-20).
    {"name": "magento:sort-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"product_list_order": "price"}},
    {"name": "magento:filter-price", "kind": "price_sort_or_filter", "priority": 1,
     "path": "/**", "query": {"price": "*"}},
    {"name": "magento:reviews", "kind": "review_view",
     "path": "/review/product/list/id/{product}/**"},
    # listAjax loads the reviews block on every product page: not a review view of its own.
    {"name": "magento:reviews-ajax", "kind": "ignore", "method": "*",
     "path": "/review/product/listAjax/**"},
    # --- verified: cart, checkout, wishlist -------------------------------------------------
    {"name": "magento:cart-add-product", "kind": "cart_add", "method": "POST",
     "path": "/checkout/cart/add/uenc/*/product/{product}/**"},
    {"name": "magento:cart-add", "kind": "cart_add", "method": "POST",
     "path": "/checkout/cart/add/**", "capture": {"product": "product"}},
    {"name": "magento:cart-delete", "kind": "cart_remove", "method": "POST",
     "path": "/checkout/cart/delete/**"},
    {"name": "magento:minicart-remove", "kind": "cart_remove", "method": "POST",
     "path": "/checkout/sidebar/removeItem/**"},
    {"name": "magento:checkout", "kind": "checkout_step", "path": "/checkout"},
    {"name": "magento:checkout-index", "kind": "checkout_step", "path": "/checkout/index/index/**"},
    {"name": "magento:checkout-shipping", "kind": "checkout_step", "method": "POST",
     "path": "/rest/**/shipping-information"},
    {"name": "magento:checkout-payment", "kind": "checkout_step", "method": "POST",
     "path": "/rest/**/payment-information"},
    {"name": "magento:success", "kind": "purchase", "path": "/checkout/onepage/success/**"},
    {"name": "magento:wishlist-add", "kind": "wishlist_add", "method": "POST",
     "path": "/wishlist/index/add/**", "capture": {"product": "product"}},
    # Private-content and cache XHRs fire on every page view.
    {"name": "magento:customer-sections", "kind": "ignore", "method": "*",
     "path": "/customer/section/load/**"},
    {"name": "magento:page-cache", "kind": "ignore", "method": "*", "path": "/page_cache/**"},
    {"name": "magento:static", "kind": "ignore", "method": "*", "path": "/static/**"},
    {"name": "magento:media", "kind": "ignore", "method": "*", "path": "/media/**"},
    # --- not verified: SEO URL defaults ------------------------------------------------------
    # With "Use Categories Path for Product URLs" = No (the default) product URLs are
    # /{url_key}.html at the top level, so a nested .html path is a category page. A single
    # top-level /x.html is either a product or a top category and stays a page view.
    {"name": "magento:seo-category", "kind": "category_view", "path": "/*/**/{category}.html"},
)
