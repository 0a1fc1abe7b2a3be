"""Every storefront preset against real URLs of its platform: pages and cart XHRs
(signals/presets/*.py through signals/routes.py)."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import pytest

from signals.events import EventKind
from signals.presets import PRESET_RULES, preset_rules
from signals.routes import RouteTable

NOW = 1_700_000_000.0


class Case(NamedTuple):
    method: str
    url: str  # path and query as the browser sends them
    kind: str | None  # event slug, or None for no event
    fields: dict[str, Any] = {}


def C(method: str, url: str, kind: str | None, **fields: Any) -> Case:  # noqa: N802
    return Case(method, url, kind, fields)


DEMO = [
    C("GET", "/", "page_view"),
    C("GET", "/collections/shirts", "category_view", category="shirts"),
    C("GET", "/collections/shirts?sort_by=price-ascending", "price_sort_or_filter",
      category="shirts"),
    C("GET", "/collections/shirts?sort_by=price-descending", "price_sort_or_filter"),
    C("GET", "/collections/shirts?sort_by=best-selling", "category_view"),
    C("GET", "/collections/shirts?filter.v.price.gte=10&filter.v.price.lte=50",
      "price_sort_or_filter"),
    C("GET", "/collections/sale", "deal_view"),
    C("GET", "/pages/sale", "deal_view"),
    C("GET", "/products/linen-shirt", "product_view", product="linen-shirt"),
    C("GET", "/products/linen-shirt/reviews", "review_view", product="linen-shirt"),
    C("GET", "/search?q=linen+shirt", "search", query="linen shirt"),
    C("GET", "/pages/compare?products=a,b,c", "compare", value=3.0),
    C("POST", "/cart/add", "cart_add"),
    C("POST", "/cart/add.js", "cart_add"),
    C("POST", "/cart/change.js?id=linen-shirt&quantity=0", "cart_remove", product="linen-shirt"),
    C("POST", "/cart/change.js?id=linen-shirt&quantity=2", None),
    C("POST", "/cart/remove", "cart_remove"),
    C("GET", "/cart", "page_view"),
    C("GET", "/checkout", "checkout_step"),
    C("POST", "/checkout", "checkout_step"),
    C("GET", "/checkout/thank-you", "purchase"),
    C("POST", "/wishlist/add", "wishlist_add"),
    C("POST", "/account/login", None),
    C("POST", "/account/logout", None),
    C("GET", "/assets/storefront.css", None),
    C("GET", "/assets/beacon-loader", None),
    C("GET", "/_intentgate/beacon.js", None),
]

SHOPIFY = [
    C("GET", "/products/the-complete-snowboard?variant=44696631246985", "product_view",
      product="the-complete-snowboard"),
    C("GET", "/collections/frontpage/products/gift-card", "product_view", product="gift-card",
      category="frontpage"),
    C("GET", "/collections/all", "category_view", category="all"),
    C("GET", "/collections/all?sort_by=price-ascending", "price_sort_or_filter", category="all"),
    C("GET", "/collections/all?filter.v.availability=1&filter.v.price.gte=&filter.v.price.lte=200",
      "price_sort_or_filter"),
    C("GET", "/collections/all?filter.v.availability=1", "category_view"),
    C("GET", "/search?q=snowboard&options%5Bprefix%5D=last", "search", query="snowboard"),
    C("GET", "/search?q=board&type=product&sort_by=price-descending", "price_sort_or_filter",
      query="board"),
    C("GET", "/search/suggest?q=snow&section_id=predictive-search", None),
    C("GET", "/search/suggest.json?q=snow&resources[type]=product", None),
    C("GET", "/recommendations/products?section_id=template--1__related&product_id=8", None),
    C("GET", "/fr/products/planche-a-neige", "product_view", product="planche-a-neige"),
    C("GET", "/en-ca/collections/winter", "category_view", category="winter"),
    C("GET", "/de/search?q=schnee", "search", query="schnee"),
    C("POST", "/cart/add.js", "cart_add"),
    C("POST", "/cart/add", "cart_add"),
    C("GET", "/cart/add?id=44696631246985&quantity=2", "cart_add", product="44696631246985",
      value=2.0),
    C("POST", "/cart/change.js", None),
    C("POST", "/cart/change.js?line=1&quantity=0", "cart_remove"),
    C("GET", "/cart/change?id=44696631246985:abc&quantity=0", "cart_remove"),
    C("POST", "/cart/update.js", None),
    C("POST", "/cart/clear.js", "cart_remove"),
    C("GET", "/cart.js", None),
    C("GET", "/products/the-complete-snowboard.js", None),
    C("GET", "/cart", "page_view"),
    C("GET", "/checkout", "checkout_step"),
    C("GET", "/checkouts/cn/Z2NwLWV1cm9wZS13ZXN0NDowMUhY/information", "checkout_step"),
    C("GET", "/checkouts/c/8f3a1b2c/thank_you", "purchase"),
    C("GET", "/checkouts/cn/Z2NwLWV1cm9wZS13ZXN0NDowMUhY/thank-you", "purchase"),
    C("GET", "/25713901/checkouts/a1b2c3d4e5f6?step=payment_method", "checkout_step"),
    C("GET", "/25713901/checkouts/a1b2c3d4e5f6/thank_you", "purchase"),
    C("POST", "/checkouts/unstable/graphql?operationName=Proposal", None),
    C("GET", "/cdn/shop/files/logo.png?v=1689&width=600", None),
    C("GET", "/pages/about-us", "page_view"),
    C("GET", "/collections/sale", "deal_view"),
]

MAGENTO = [
    C("GET", "/catalog/product/view/id/1812/s/radiant-tee/category/23/", "product_view",
      product="1812"),
    C("GET", "/catalog/product/view/id/1812", "product_view", product="1812"),
    C("GET", "/catalog/category/view/id/23", "category_view", category="23"),
    C("GET", "/catalog/category/view/s/tops-women/id/23/", "page_view"),
    C("GET", "/women/tops-women.html", "category_view", category="tops-women"),
    C("GET", "/women/tops-women.html?product_list_order=price", "price_sort_or_filter"),
    C("GET", "/women/tops-women.html?price=20-30", "price_sort_or_filter"),
    C("GET", "/women/tops-women.html?product_list_order=name", "category_view"),
    C("GET", "/radiant-tee.html", "page_view"),
    C("GET", "/catalogsearch/result/?q=jacket", "search", query="jacket"),
    C("GET", "/catalogsearch/result/index/?q=yoga+pants&product_list_order=price",
      "price_sort_or_filter"),
    C("GET", "/catalogsearch/advanced/result/?name=hoodie&sku=&price%5Bfrom%5D=", "search",
      query="hoodie"),
    C("GET", "/search/ajax/suggest/?q=jack&_=1700000000000", None),
    C("GET", "/catalog/product_compare/", "compare"),
    C("GET", "/catalog/product_compare/index/", "compare"),
    C("POST", "/catalog/product_compare/add/", "compare"),
    C("GET", "/review/product/list/id/1812/", "review_view", product="1812"),
    C("GET", "/review/product/listAjax/id/1812/", None),
    C("POST", "/checkout/cart/add/uenc/aHR0cHM6Ly9tYWdlbnRvLnRlc3QvcmFkaWFudC10ZWUuaHRtbA,,/"
      "product/1812/", "cart_add", product="1812"),
    C("POST", "/checkout/cart/add/", "cart_add"),
    C("POST", "/checkout/cart/delete/", "cart_remove"),
    C("POST", "/checkout/sidebar/removeItem/", "cart_remove"),
    C("POST", "/checkout/cart/updatePost/", None),
    C("GET", "/checkout/cart/", "page_view"),
    C("GET", "/checkout/", "checkout_step"),
    C("POST", "/rest/default/V1/guest-carts/Xk2a9/shipping-information", "checkout_step"),
    C("POST", "/rest/default/V1/carts/mine/payment-information", "checkout_step"),
    C("POST", "/rest/default/V1/guest-carts/Xk2a9/estimate-shipping-methods", None),
    C("GET", "/checkout/onepage/success/", "purchase"),
    C("POST", "/wishlist/index/add/", "wishlist_add"),
    C("GET", "/customer/section/load/?sections=cart%2Cmessages&force_new_section_timestamp=true",
      None),
    C("GET", "/static/version1700000000/frontend/Magento/luma/en_US/requirejs/require", None),
    C("GET", "/media/catalog/product/cache/1/image/wt09-white_main_1.jpg", None),
]

WOOCOMMERCE = [
    C("GET", "/product/hoodie-with-logo/", "product_view", product="hoodie-with-logo"),
    C("GET", "/product-category/clothing/", "category_view", category="clothing"),
    C("GET", "/product-category/clothing/hoodies/", "category_view", category="hoodies"),
    C("GET", "/product-category/clothing/page/2/", "category_view", category="clothing"),
    C("GET", "/product-tag/cotton/", "category_view", category="cotton"),
    C("GET", "/shop/", "category_view"),
    C("GET", "/shop/?orderby=price", "price_sort_or_filter"),
    C("GET", "/product-category/clothing/?orderby=price-desc", "price_sort_or_filter"),
    C("GET", "/product-category/clothing/?orderby=popularity", "category_view"),
    C("GET", "/shop/?min_price=10&max_price=40", "price_sort_or_filter"),
    C("GET", "/?s=hoodie&post_type=product", "search", query="hoodie"),
    C("GET", "/?s=hoodie", "page_view"),
    C("GET", "/?product=hoodie-with-logo", "product_view", product="hoodie-with-logo"),
    C("GET", "/?product_cat=clothing", "category_view", category="clothing"),
    C("GET", "/shop/?add-to-cart=31", "cart_add", product="31"),
    C("POST", "/product/hoodie-with-logo/?add-to-cart=31&quantity=2", "cart_add", product="31",
      value=2.0),
    C("POST", "/product/hoodie-with-logo/", "cart_add", product="hoodie-with-logo"),
    C("POST", "/?wc-ajax=add_to_cart", "cart_add"),
    C("POST", "/?wc-ajax=remove_from_cart", "cart_remove"),
    C("POST", "/?wc-ajax=get_refreshed_fragments", None),
    C("POST", "/?wc-ajax=update_order_review", None),
    C("GET", "/cart/?remove_item=a5771bce93e200c36f7cd9dfd0e5deaa&_wpnonce=3e9c1a", "cart_remove"),
    C("GET", "/cart/", "page_view"),
    C("GET", "/checkout/", "checkout_step"),
    C("POST", "/?wc-ajax=checkout", "checkout_step"),
    C("GET", "/checkout/order-pay/512/?pay_for_order=true&key=wc_order_x", "checkout_step"),
    C("GET", "/checkout/order-received/512/?key=wc_order_AbC123", "purchase"),
    C("POST", "/wp-json/wc/store/v1/cart/add-item", "cart_add"),
    C("POST", "/wp-json/wc/store/cart/remove-item", "cart_remove"),
    C("POST", "/wp-json/wc/store/v1/checkout", "checkout_step"),
    C("GET", "/wp-json/wc/store/v1/cart", None),
    C("POST", "/wp-admin/admin-ajax.php", None),
    C("GET", "/wp-content/uploads/2024/01/hoodie-with-logo-2.jpg", None),
    C("GET", "/?add_to_wishlist=31", "wishlist_add", product="31"),
]

BIGCOMMERCE = [
    C("GET", "/products.php?productId=77", "product_view", product="77"),
    C("GET", "/products/Orbit-Terrarium-Large.html", "product_view",
      product="Orbit-Terrarium-Large"),
    C("GET", "/categories/Garden/", "category_view", category="Garden"),
    C("GET", "/orbit-terrarium-large/", "page_view"),
    C("GET", "/search.php?search_query=terrarium&section=product", "search", query="terrarium"),
    C("GET", "/compare/86/88/", "compare", value=2.0),
    C("GET", "/garden/?sort=priceasc", "price_sort_or_filter"),
    C("GET", "/garden/?sort=pricedesc", "price_sort_or_filter"),
    C("GET", "/garden/?sort=bestselling", "page_view"),
    C("GET", "/shop-all/?price_min=10&price_max=60", "price_sort_or_filter"),
    C("GET", "/cart.php?action=add&product_id=77", "cart_add", product="77"),
    C("POST", "/remote/v1/cart/add", "cart_add"),
    C("POST", "/remote/v1/cart/update", None),
    C("GET", "/remote/v1/cart/content", None),
    C("POST", "/api/storefront/carts", "cart_add"),
    C("POST", "/api/storefront/carts/0c2a5f3e-7f71-4a0c/items", "cart_add"),
    C("DELETE", "/api/storefront/carts/0c2a5f3e-7f71-4a0c/items/a1b2", "cart_remove"),
    C("GET", "/api/storefront/carts?include=lineItems.physicalItems.options", None),
    C("GET", "/cart.php", "page_view"),
    C("GET", "/cart.php?action=remove&item=3", "cart_remove"),
    C("GET", "/checkout", "checkout_step"),
    C("GET", "/checkout/order-confirmation/118", "purchase"),
    C("GET", "/finishorder.php", "purchase"),
    C("POST", "/wishlist.php?action=add&product_id=77", "wishlist_add", product="77"),
    C("GET", "/wishlist.php", "page_view"),
]

_SFRA = "/on/demandware.store/Sites-RefArch-Site/en_US"
SFRA = [
    C("GET", f"{_SFRA}/Product-Show?pid=25519318M", "product_view", product="25519318M"),
    C("GET", f"{_SFRA}/Product-ShowQuickView?pid=25519318M", "product_view",
      product="25519318M"),
    C("GET", f"{_SFRA}/Product-Variation?dwvar_25519318M_color=BLUJEFB&pid=25519318M", None),
    C("GET", f"{_SFRA}/Search-Show?q=shirt", "search", query="shirt"),
    C("GET", f"{_SFRA}/Search-Show?cgid=mens-clothing-shorts", "category_view",
      category="mens-clothing-shorts"),
    C("GET", f"{_SFRA}/Search-Show?cgid=womens&srule=price-low-to-high", "price_sort_or_filter",
      category="womens"),
    C("GET", f"{_SFRA}/Search-UpdateGrid?cgid=womens&srule=price-high-to-low&start=0&sz=12",
      "price_sort_or_filter", category="womens"),
    C("GET", f"{_SFRA}/Search-UpdateGrid?cgid=womens&srule=top-sellers", None),
    C("GET", f"{_SFRA}/Search-ShowAjax?cgid=womens&pmin=20&pmax=50", "price_sort_or_filter"),
    C("GET", f"{_SFRA}/SearchServices-GetSuggestions?q=shi", None),
    C("GET", f"{_SFRA}/Compare-Show?pids=25519318M,25503585M,25686364M", "compare", value=3.0),
    C("POST", f"{_SFRA}/Cart-AddProduct", "cart_add"),
    C("GET", f"{_SFRA}/Cart-RemoveProductLineItem?pid=25519318M&uuid=ab12", "cart_remove",
      product="25519318M"),
    C("GET", f"{_SFRA}/Cart-MiniCartShow", None),
    C("GET", f"{_SFRA}/Cart-Show", None),
    C("GET", f"{_SFRA}/Checkout-Begin?stage=shipping", "checkout_step"),
    C("POST", f"{_SFRA}/CheckoutShippingServices-SubmitShipping", "checkout_step"),
    C("POST", f"{_SFRA}/CheckoutServices-SubmitPayment", "checkout_step"),
    C("POST", f"{_SFRA}/CheckoutServices-PlaceOrder", "checkout_step"),
    C("POST", f"{_SFRA}/CheckoutShippingServices-UpdateShippingMethodsList", None),
    C("POST", f"{_SFRA}/Order-Confirm", "purchase"),
    C("GET", f"{_SFRA}/Order-Confirm?ID=00001603&token=x", "purchase"),
    C("POST", f"{_SFRA}/Wishlist-AddProduct", "wishlist_add"),
    C("GET", "/on/demandware.store/Sites-RefArch-Site/default/Product-Show?pid=P1",
      "product_view", product="P1"),
    C("GET", "/s/RefArch/mens/clothing/pants/25519318M.html?lang=en_US", "product_view",
      product="25519318M"),
    C("GET", "/s/RefArch/search?q=jacket&lang=en_US", "search", query="jacket"),
    C("GET", "/on/demandware.static/Sites-RefArch-Site/-/en_US/v1700/js/main.js", None),
]

GENERIC = [
    C("GET", "/api/products/12", "product_view", product="12"),
    C("GET", "/api/v2/products/12", "product_view", product="12"),
    C("GET", "/api/products/12/reviews", "review_view", product="12"),
    C("GET", "/api/categories/shoes", "category_view", category="shoes"),
    C("GET", "/api/v1/categories/shoes/products?sort=price", "price_sort_or_filter"),
    C("GET", "/api/products?category=shoes", "category_view", category="shoes"),
    C("GET", "/api/search?q=red+shoes", "search", query="red shoes"),
    C("GET", "/api/products?q=boots", "search", query="boots"),
    C("GET", "/api/products?category=shoes&sort=-price", "price_sort_or_filter"),
    C("GET", "/api/products?max_price=80", "price_sort_or_filter"),
    C("GET", "/api/compare?ids=1,2", "compare", value=2.0),
    C("GET", "/api/deals", "deal_view"),
    C("POST", "/api/cart/items", "cart_add"),
    C("DELETE", "/api/cart/items/12", "cart_remove", product="12"),
    C("PATCH", "/api/cart/items/12", None),
    C("POST", "/api/checkout/shipping", "checkout_step"),
    C("POST", "/api/orders", "purchase"),
    C("POST", "/api/wishlist/items", "wishlist_add"),
    C("GET", "/api/me", None),
    C("GET", "/api/cart", None),
]

PRESTASHOP = [
    C("GET", "/index.php?controller=product&id_product=7", "product_view", product="7"),
    C("GET", "/index.php?id_product=7&controller=product&id_lang=1", "product_view"),
    C("GET", "/index.php?controller=category&id_category=3", "category_view", category="3"),
    C("GET", "/search?controller=search&s=mug", "search", query="mug"),
    C("GET", "/index.php?controller=search&s=mug", "search", query="mug"),
    C("GET", "/3-clothes?order=product.price.asc", "price_sort_or_filter"),
    C("POST", "/index.php?controller=cart&add=1&id_product=7&token=x", "cart_add", product="7"),
    C("POST", "/cart?add=1&id_product=7&id_product_attribute=0&token=x", "cart_add"),
    C("GET", "/cart?delete=1&id_product=7&token=x", "cart_remove", product="7"),
    C("POST", "/index.php?controller=order", "checkout_step"),
    C("GET", "/order-confirmation?id_cart=5&id_module=3&id_order=9&key=abc", "purchase"),
    C("GET", "/index.php?controller=order-confirmation&id_order=9", "purchase"),
    C("GET", "/prices-drop", "deal_view"),
    C("GET", "/img/p/1/1-home_default.jpg", None),
]
# Named explicitly (preset = "prestashop"), not in "auto".
PRESTASHOP_ONLY = [
    C("GET", "/men/1-1-hummingbird-printed-t-shirt.html", "product_view",
      product="1-1-hummingbird-printed-t-shirt"),
    C("POST", "/cart", "cart_add"),
    C("GET", "/order", "checkout_step"),
]

SHOPWARE = [
    C("GET", "/detail/2a88d9b59d474c7e869d8071649be43c", "product_view",
      product="2a88d9b59d474c7e869d8071649be43c"),
    C("GET", "/navigation/a515ae260223466f8e37471d279e6406", "category_view"),
    C("GET", "/search?search=shirt", "search", query="shirt"),
    C("GET", "/suggest?search=shi", None),
    C("GET", "/Clothing/?order=price-asc", "price_sort_or_filter"),
    C("GET", "/Clothing/?min-price=10", "price_sort_or_filter"),
    C("POST", "/checkout/line-item/add", "cart_add"),
    C("POST", "/checkout/line-item/delete/5b9c8d7e", "cart_remove"),
    C("GET", "/checkout/confirm", "checkout_step"),
    C("POST", "/checkout/order", "checkout_step"),
    C("GET", "/checkout/finish?orderId=0189f0e3", "purchase"),
    C("POST", "/wishlist/add/2a88d9b5", "wishlist_add", product="2a88d9b5"),
    C("GET", "/widgets/checkout/info", None),
]

OPENCART = [
    C("GET", "/index.php?route=product/product&product_id=42", "product_view", product="42"),
    C("GET", "/index.php?route=product/product&path=20&product_id=42", "product_view"),
    C("GET", "/index.php?route=product/category&path=20_27", "category_view",
      category="20_27"),
    C("GET", "/index.php?route=product/category&path=20&sort=p.price&order=ASC",
      "price_sort_or_filter"),
    C("GET", "/index.php?route=product/search&search=mac", "search", query="mac"),
    C("GET", "/index.php?route=product/special", "deal_view"),
    C("GET", "/index.php?route=product/compare", "compare"),
    C("POST", "/index.php?route=checkout/cart/add", "cart_add"),
    C("POST", "/index.php?route=checkout/cart.add&language=en-gb", "cart_add"),
    C("POST", "/index.php?route=checkout/cart/remove", "cart_remove"),
    C("GET", "/index.php?route=checkout/checkout", "checkout_step"),
    C("GET", "/index.php?route=checkout/success", "purchase"),
    C("POST", "/index.php?route=account/wishlist/add", "wishlist_add"),
    C("GET", "/index.php?route=product/product/review&product_id=42", None),
]

CASES: dict[str, list[Case]] = {
    "demo": DEMO,
    "shopify": SHOPIFY,
    "magento": MAGENTO,
    "woocommerce": WOOCOMMERCE,
    "bigcommerce": BIGCOMMERCE,
    "sfra": SFRA,
    "generic": GENERIC,
    "prestashop": PRESTASHOP,
    "shopware": SHOPWARE,
    "opencart": OPENCART,
}


def _params(events_only: bool = False) -> list[Any]:
    return [
        pytest.param(preset, case, id=f"{preset}-{case.method}-{case.url[:70]}")
        for preset, cases in CASES.items()
        for case in cases
        if not events_only or case.kind not in (None, "page_view")
    ]


@pytest.fixture(scope="module")
def tables() -> dict[str, RouteTable]:
    return {name: RouteTable.from_config(name) for name in (*CASES, "auto")}


def _match(table: RouteTable, case: Case) -> Any:
    path, _, query = case.url.partition("?")
    return table.match(case.method, path, query.encode(), NOW)


@pytest.mark.parametrize(("preset", "case"), _params())
def test_preset_maps_real_platform_url(
    tables: dict[str, RouteTable], preset: str, case: Case
) -> None:
    event = _match(tables[preset], case)
    if case.kind is None:
        assert event is None, tables[preset].which(case.method, *case.url.partition("?")[::2])
        return
    assert event is not None
    assert event.kind == EventKind.from_slug(case.kind)
    assert event.ts == NOW
    for name, want in case.fields.items():
        assert getattr(event, name) == want, name


def test_presets_cover_page_views_and_cart_xhrs_for_every_platform() -> None:
    for preset, cases in CASES.items():
        kinds = {c.kind for c in cases}
        assert {"product_view", "search", "cart_add", "checkout_step"} <= kinds | {"page_view"}, (
            preset
        )
        assert any(c.method != "GET" and c.kind == "cart_add" for c in cases), preset
        assert "cart_remove" in kinds, preset


def test_presets_registry_lists_every_platform_module() -> None:
    assert set(PRESET_RULES) == set(CASES)
    for name in PRESET_RULES:
        module = importlib.import_module(f"signals.presets.{name}")
        assert preset_rules(name) is module.RULES
        doc = module.__doc__ or ""
        assert "verified" in doc, name  # each module says which rows are platform facts


def test_presets_rule_names_are_unique_and_prefixed() -> None:
    seen: set[str] = set()
    for name, rules in PRESET_RULES.items():
        for rule in rules:
            label = rule["name"]
            assert label not in seen
            seen.add(label)
            prefix = {"woocommerce": "woo"}.get(name, name)
            assert label.startswith(prefix + ":"), label


def test_presets_unknown_name_is_a_key_error_naming_known_ones() -> None:
    with pytest.raises(KeyError, match="shopify"):
        preset_rules("oscommerce")


@pytest.mark.parametrize(("preset", "case"), _params(events_only=True))
def test_auto_preset_agrees_with_platform_preset_on_its_events(
    tables: dict[str, RouteTable], preset: str, case: Case
) -> None:
    # "auto" (every platform at once, the default) may see an event where one platform sees a
    # page, but must not turn one platform's event into another kind.
    got = _match(tables["auto"], case)
    assert got is not None
    assert got.kind == EventKind.from_slug(case.kind or "")


@pytest.mark.parametrize("case", PRESTASHOP_ONLY, ids=lambda c: f"{c.method}-{c.url}")
def test_prestashop_friendly_rows_apply_when_the_preset_is_named(
        tables: dict[str, RouteTable], case: Case) -> None:
    got = _match(RouteTable.from_config("prestashop"), case)
    assert got is not None and got.kind == EventKind.from_slug(case.kind or "")
    for name, want in case.fields.items():
        assert getattr(got, name) == want, name
    if case.method == "POST":  # left out of "auto": a Shopify cart form also posts to /cart
        auto = _match(tables["auto"], case)
        assert auto is None or auto.kind != EventKind.CART_ADD
