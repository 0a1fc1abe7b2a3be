"""The demo storefront, served by a real uvicorn on loopback and driven with httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from html import escape
from typing import Any

import httpx
import pytest

from proxy.demo_shop import create_demo_shop
from proxy.demo_shop.app import ASSETS
from proxy.demo_shop.catalog import BY_COLLECTION, COLLECTIONS, ON_SALE, PRODUCTS, search
from proxy.demo_shop.cookies import (
    MAX_QTY,
    format_cart,
    parse_cart,
    parse_order,
    parse_user,
    parse_wishlist,
    valid_user,
)
from tests.servers import serve_in_thread

BEACON = '<script src="/_intentgate/beacon.js" defer></script>'
FOOTER = "What intentgate told this shop"
NO_INTENT = "no X-Intent-* headers: intentgate did not classify this request"


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with serve_in_thread(create_demo_shop()) as url:
        yield url


@pytest.fixture
def client(shop: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop) as c:  # a fresh cookie jar: one shopper per test
        yield c


def _prices(html: str) -> list[Decimal]:
    return [Decimal(p) for p in re.findall(r'class="price" data-price="([\d.]+)"', html)]


def _handles(html: str) -> list[str]:
    return re.findall(r'<li class="card" data-handle="([a-z0-9-]+)"', html)


# -- catalog and cookie codecs (no server) ------------------------------------------------------


def test_demo_shop_catalog_has_dozens_of_products_in_six_collections() -> None:
    assert len(PRODUCTS) >= 30 and len(COLLECTIONS) == 6
    assert all(len(BY_COLLECTION[c]) >= 5 for c in COLLECTIONS)
    assert ON_SALE and all(p.compare_at is not None and p.compare_at > p.price for p in ON_SALE)
    for p in PRODUCTS.values():
        assert len(p.reviews) >= 2 and isinstance(p.price, Decimal)
        mean = Decimal(sum(r.stars for r in p.reviews)) / len(p.reviews)
        assert abs(p.rating - mean) <= Decimal("0.05")


def test_demo_shop_catalog_search_needs_every_word_and_ranks_titles_first() -> None:
    assert {p.handle for p in search("headphones")} == {"studio-headphones",
                                                         "noise-cancelling-headphones"}
    assert [p.handle for p in search("noise headphones")] == ["noise-cancelling-headphones"]
    found = search("phone")
    assert found[0].title.lower().count("phone") and "smart-lamp" in {p.handle for p in found}
    assert search("") == [] and search("   ") == [] and search("zzzz") == []


def test_demo_shop_cart_cookie_parse_drops_bad_parts_and_caps() -> None:
    raw = "ghost:1|smartwatch:abc|tripod:2|smartwatch:²|tripod:98|smart-lamp:0|:3|phone-pro:-1"
    assert parse_cart(raw, PRODUCTS) == {"tripod": MAX_QTY}
    assert parse_cart("x" * 5000, PRODUCTS) == {} and parse_cart(None, PRODUCTS) == {}
    cart = {"phone-pro": 2, "tripod": 1}
    assert parse_cart(format_cart(cart), PRODUCTS) == cart


def test_demo_shop_other_cookies_validate_their_values() -> None:
    assert parse_wishlist("tripod|ghost|tripod|smartwatch", PRODUCTS) == ["tripod", "smartwatch"]
    assert valid_user("alice@example.com") and valid_user("Ann Lee")
    assert not any(valid_user(u) for u in ("", "-", " x", "用户", "a\nb", "x" * 65))
    assert parse_user("\x7f") is None and parse_user("bob") == "bob"
    assert parse_order("0A1B2C3D") == "0A1B2C3D" and parse_order("<script>") is None


# -- pages ------------------------------------------------------------------------------------

GET_PAGES = ["/", "/collections/audio", "/collections/all", "/collections/sale", "/pages/sale",
             "/products/phone-pro", "/products/phone-pro/reviews", "/search?q=camera",
             "/search", "/pages/compare?products=phone-pro,phone-lite", "/cart", "/checkout",
             "/checkout/thank-you", "/account", "/account/login", "/products/nope"]


@pytest.mark.parametrize("path", GET_PAGES)
def test_demo_shop_every_page_has_beacon_footer_and_html(client: httpx.Client,
                                                         path: str) -> None:
    r = client.get(path)
    assert r.status_code == (404 if path == "/products/nope" else 200)
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!doctype html>") and r.text.rstrip().endswith("</html>")
    assert BEACON in r.text and FOOTER in r.text and NO_INTENT in r.text


def test_demo_shop_home_links_collections_products_and_sale(client: httpx.Client) -> None:
    r = client.get("/")
    for handle in COLLECTIONS:
        assert f'href="/collections/{handle}"' in r.text
    assert 'href="/pages/sale"' in r.text and len(_handles(r.text)) >= 12
    assert 'href="/assets/shop.css"' in r.text and 'href="/account/login"' in r.text


@pytest.mark.parametrize(("sort", "reverse"), [("price-ascending", False),
                                                ("price-descending", True)])
def test_demo_shop_collection_sorts_by_price(client: httpx.Client, sort: str,
                                             reverse: bool) -> None:
    r = client.get("/collections/laptops", params={"sort_by": sort})
    prices = _prices(r.text)
    assert len(prices) == len(BY_COLLECTION["laptops"])
    assert prices == sorted(prices, reverse=reverse) and prices != _prices(
        client.get("/collections/laptops", params={"sort_by": "price-" + (
            "ascending" if reverse else "descending")}).text)


def test_demo_shop_collection_sorts_by_title_and_ignores_unknown_sort(
        client: httpx.Client) -> None:
    r = client.get("/collections/cameras", params={"sort_by": "title-ascending"})
    titles = [PRODUCTS[h].title.lower() for h in _handles(r.text)]
    assert titles == sorted(titles) and len(titles) == len(BY_COLLECTION["cameras"])
    r = client.get("/collections/cameras", params={"sort_by": "<bogus>"})
    assert r.status_code == 200 and _handles(r.text) == [p.handle for p in
                                                          BY_COLLECTION["cameras"]]


def test_demo_shop_collection_price_filter_keeps_sort(client: httpx.Client) -> None:
    r = client.get("/collections/audio", params={"filter.v.price.gte": "60",
                                                 "filter.v.price.lte": "250"})
    prices = _prices(r.text)
    expected = [p.price for p in BY_COLLECTION["audio"] if 60 <= p.price <= 250]
    assert prices == expected and prices
    r = client.get("/collections/all", params={"filter.v.price.lte": "100",
                                               "sort_by": "price-descending"})
    prices = _prices(r.text)
    assert prices == sorted(prices, reverse=True) and max(prices) <= 100
    assert "sort_by=price-ascending&amp;filter.v.price.lte=100" in r.text  # links keep filter


@pytest.mark.parametrize("value", ["x", "NaN", "-5", "1e999", "9" * 40, "Infinity"])
def test_demo_shop_collection_bad_price_filter_is_400_with_reason(client: httpx.Client,
                                                                  value: str) -> None:
    r = client.get("/collections/audio", params={"filter.v.price.lte": value})
    assert r.status_code == 400 and "filter.v.price.lte must be a price" in r.text


def test_demo_shop_sale_pages_show_only_discounted_products(client: httpx.Client) -> None:
    expected = {p.handle for p in ON_SALE}
    for path in ("/pages/sale", "/collections/sale"):
        r = client.get(path)
        assert r.status_code == 200 and set(_handles(r.text)) == expected
    assert "<s>€199.00</s>" in client.get("/products/studio-headphones").text


def test_demo_shop_product_page_has_reviews_cart_wishlist_and_compare(
        client: httpx.Client) -> None:
    p = PRODUCTS["studio-headphones"]
    r = client.get("/products/studio-headphones")
    assert r.status_code == 200 and "<h1>Studio Headphones</h1>" in r.text
    assert 'id="reviews"' in r.text and p.reviews[0].text in r.text and "€149.00" in r.text
    assert 'action="/cart/add?id=studio-headphones"' in r.text and 'name="quantity"' in r.text
    assert 'action="/wishlist/add?id=studio-headphones"' in r.text
    assert 'href="/pages/compare?products=studio-headphones,' in r.text
    r = client.get("/products/studio-headphones/reviews")
    assert r.status_code == 200 and f"Average {p.rating} / 5" in r.text
    assert all(rv.author in r.text for rv in p.reviews)


def test_demo_shop_kids_watch_title_is_escaped(client: httpx.Client) -> None:
    r = client.get("/products/kids-watch")
    assert "<h1>Kids&#x27; Watch</h1>" in r.text


@pytest.mark.parametrize("path", ["/products/nope", "/collections/nope", "/products/nope/reviews",
                                  "/x/y", "/assets/nope.css", "/products/"])
def test_demo_shop_unknown_pages_are_real_404_pages(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and "Page not found" in r.text and FOOTER in r.text


def test_demo_shop_404_escapes_the_requested_handle(client: httpx.Client) -> None:
    r = client.get("/products/%3Cscript%3Ealert(1)")
    assert r.status_code == 404 and "<script>alert" not in r.text and "&lt;script&gt;" in r.text


def test_demo_shop_search_finds_misses_and_escapes(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "headphones"})
    assert set(_handles(r.text)) == {"studio-headphones", "noise-cancelling-headphones"}
    assert "2 results for <q>headphones</q>" in r.text and 'value="headphones"' in r.text
    r = client.get("/search", params={"q": "zzzz"})
    assert "No products match <q>zzzz</q>" in r.text and not _handles(r.text)
    assert "Type something" in client.get("/search", params={"q": "   "}).text
    r = client.get("/search", params={"q": '"><script>x</script>'})
    assert r.status_code == 200 and "<script>x" not in r.text and "&lt;script&gt;" in r.text


def test_demo_shop_compare_tables_found_and_lists_missing(client: httpx.Client) -> None:
    r = client.get("/pages/compare", params={"products": "phone-pro,phone-lite,phone-pro,ghost,"
                                                         "<b>x</b>"})
    assert r.status_code == 200 and r.text.count('<th scope="col">') == 2
    assert "€1,099.00" in r.text and "€399.00" in r.text
    assert "Not found: <code>ghost</code>, <code>&lt;b&gt;x&lt;/b&gt;</code>" in r.text
    r = client.get("/pages/compare", params={"products": ",".join(PRODUCTS)})
    assert r.text.count('<th scope="col">') == 6  # capped
    r = client.get("/pages/compare")
    assert r.status_code == 400 and "name the products to compare" in r.text


# -- cart, checkout, wishlist, account --------------------------------------------------------


def test_demo_shop_cart_add_change_remove_through_the_cookie(client: httpx.Client) -> None:
    r = client.post("/cart/add", data={"id": "smartwatch", "quantity": "2"})
    assert r.status_code == 303 and r.headers["location"] == "/cart"
    assert "smartwatch:2" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    r = client.get("/cart")
    assert "Cart (2)" in r.text and '<th class="total">€598.00</th>' in r.text
    r = client.post("/cart/add.js", json={"id": "tripod", "quantity": 1})
    assert r.status_code == 200 and r.json()["item_count"] == 3
    assert r.json()["total_price"] == "727.00"
    assert r.json()["items"][1] == {"id": "tripod", "handle": "tripod", "title": "Travel Tripod",
                                    "quantity": 1, "price": "129.00", "line_price": "129.00"}
    r = client.post("/cart/add.js?id=tripod", data={"quantity": "2"})  # id from the query
    assert r.json()["item_count"] == 5
    r = client.post("/cart/change.js", json={"id": "tripod", "quantity": 4})
    assert r.json()["item_count"] == 6
    r = client.post("/cart/change.js?quantity=0", json={"id": "tripod"})
    assert r.json()["item_count"] == 2
    r = client.post("/cart/remove?id=smartwatch")
    assert r.status_code == 303 and "Your cart is empty" in client.get("/cart").text
    assert "cart" not in client.cookies


def test_demo_shop_cart_quantity_is_capped_per_line(client: httpx.Client) -> None:
    client.post("/cart/add", data={"id": "watch-strap", "quantity": "60"})
    r = client.post("/cart/add.js", data={"id": "watch-strap", "quantity": "60"})
    assert r.json()["item_count"] == MAX_QTY


def test_demo_shop_cart_change_of_absent_product_is_json_400(client: httpx.Client) -> None:
    r = client.post("/cart/change.js", json={"id": "tripod", "quantity": 3})
    assert r.status_code == 400 and "not in the cart" in r.json()["error"]


def test_demo_shop_bad_cart_cookie_is_ignored(shop: str) -> None:
    cookie = "cart=ghost:1|smartwatch:abc|||tripod:2|smartwatch:²|%%%; other=\"x"
    r = httpx.get(f"{shop}/cart", headers={"cookie": cookie.encode()})  # raw UTF-8 bytes
    assert r.status_code == 200 and "Travel Tripod" in r.text and "Cart (2)" in r.text
    r = httpx.get(f"{shop}/cart", headers={"cookie": "cart=" + "tripod:1|" * 1000})
    assert r.status_code == 200 and "Your cart is empty" in r.text


def test_demo_shop_checkout_flow_to_thank_you(client: httpx.Client) -> None:
    assert "Your cart is empty" in client.get("/checkout").text
    client.post("/cart/add", data={"id": "smart-lamp"})
    r = client.get("/checkout")
    assert "Place order" in r.text and "Smart Lamp" in r.text and "€49.00" in r.text
    r = client.post("/checkout", data={"email": "not-an-email"})
    assert r.status_code == 400 and "email address" in r.text
    r = client.post("/checkout", data={"email": "a@example.com", "name": "A"})
    assert r.status_code == 303 and r.headers["location"] == "/checkout/thank-you"
    r = client.get("/checkout/thank-you")
    order = client.cookies["last_order"]
    assert "on its way" in r.text and f"<strong>{order}</strong>" in r.text
    assert "Your cart is empty" in client.get("/cart").text
    r = client.post("/checkout", data={"email": "a@example.com"})
    assert r.status_code == 400 and "cart is empty" in r.text


def test_demo_shop_login_and_logout_name_the_shopper(client: httpx.Client) -> None:
    r = client.post("/account/login", data={"user": "alice@example.com"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert r.headers["x-intent-identify"] == "alice@example.com"
    assert "Signed in as <strong>alice@example.com</strong>" in client.get("/account").text
    r = client.post("/account/logout")
    assert r.status_code == 303 and r.headers["x-intent-identify"] == "-"
    assert "Sign in" in client.get("/account").text and "shop_user" not in client.cookies


@pytest.mark.parametrize("user", ["", "   ", "-", "用户", "a\tb", "x" * 65])
def test_demo_shop_login_refuses_names_unfit_for_a_header(client: httpx.Client,
                                                          user: str) -> None:
    r = client.post("/account/login", data={"user": user})
    assert r.status_code == 400 and "x-intent-identify" not in r.headers
    assert "printable ASCII" in r.text


def test_demo_shop_wishlist_add_saves_and_lists(client: httpx.Client) -> None:
    r = client.post("/wishlist/add", data={"id": "smart-ring"})
    assert r.status_code == 303 and r.headers["location"] == "/products/smart-ring"
    client.post("/wishlist/add?id=tripod")
    client.post("/wishlist/add?id=smart-ring")
    assert _handles(client.get("/account").text) == ["smart-ring", "tripod"]


# -- bad input, errors, headers, assets --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data", "reason"),
    [("/cart/add", {}, "missing field 'id'"),
     ("/cart/add", {"id": "smartwatch", "quantity": "lots"}, "whole number"),
     ("/cart/add", {"id": "smartwatch", "quantity": "-1"}, "whole number"),
     ("/cart/add", {"id": "smartwatch", "quantity": "100000"}, "at most 99"),
     ("/cart/add", {"id": "smartwatch", "quantity": "9" * 5000}, "whole number"),
     ("/cart/add", {"id": "ghost"}, "unknown product"),
     ("/cart/remove", {}, "missing field 'id'"),
     ("/account/login", {}, "form field 'user'"),
     ("/wishlist/add", {}, "missing field 'id'"),
     ("/wishlist/add", {"id": "ghost"}, "unknown product")],
)
def test_demo_shop_bad_form_input_is_400_page_with_reason(client: httpx.Client, path: str,
                                                          data: dict[str, str],
                                                          reason: str) -> None:
    r = client.post(path, data=data)
    assert r.status_code == 400 and "Bad request" in r.text and escape(reason) in r.text
    assert FOOTER in r.text


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"json": {"id": "tripod", "quantity": 1.5}}, "whole number"),
     ({"json": {"id": "tripod", "quantity": True}}, "whole number"),
     ({"json": {"id": 7}}, "missing field 'id'"),
     ({"json": ["tripod"]}, "must be an object"),
     ({"content": b"{nope", "headers": {"content-type": "application/json"}}, "not valid JSON")],
)
def test_demo_shop_bad_ajax_input_is_json_400(client: httpx.Client, kwargs: dict[str, Any],
                                              reason: str) -> None:
    r = client.post("/cart/add.js", **kwargs)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert reason in r.json()["error"]


def test_demo_shop_refuses_big_and_multipart_bodies(client: httpx.Client) -> None:
    r = client.post("/cart/add", data={"id": "tripod", "pad": "x" * 20_000})
    assert r.status_code == 413 and "over 16384 bytes" in r.text
    r = client.post("/cart/add", files={"id": ("a.txt", b"tripod")})
    assert r.status_code == 415 and "x-www-form-urlencoded" in r.text


def test_demo_shop_wrong_method_is_405_page_with_allow(client: httpx.Client) -> None:
    r = client.get("/cart/add")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and FOOTER in r.text
    r = client.put("/checkout")
    assert r.status_code == 405 and "POST" in r.headers["allow"]


def test_demo_shop_footer_echoes_intent_headers_escaped(client: httpx.Client) -> None:
    r = client.get("/", headers={"X-Intent-Class": "<b>comparison-shopper</b>",
                                 "X-Intent-Signals": "comparisons=0.46, a&b=\"1\"",
                                 "X-Other": "not-shown"})
    assert "<code>x-intent-class</code>: <strong>&lt;b&gt;comparison-shopper&lt;/b&gt;" \
           "</strong>" in r.text
    assert "comparisons=0.46, a&amp;b=&quot;1&quot;" in r.text
    assert "<b>comparison" not in r.text and "not-shown" not in r.text and NO_INTENT not in r.text
    r = client.get("/products/nope", headers={"X-Intent-Model": "m1"})
    assert r.status_code == 404 and "<strong>m1</strong>" in r.text


@pytest.mark.parametrize(("name", "ctype"), [("shop.css", "text/css"),
                                             ("shop.js", "javascript"),
                                             ("audio.svg", "image/svg+xml")])
def test_demo_shop_serves_assets_with_cache_control(client: httpx.Client, name: str,
                                                    ctype: str) -> None:
    r = client.get(f"/assets/{name}")
    assert r.status_code == 200 and ctype in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=3600" and r.content


def test_demo_shop_js_posts_to_the_ajax_cart() -> None:
    js = (ASSETS / "shop.js").read_text()
    assert "/cart/add.js" in js and "fetch(" in js
    for collection in COLLECTIONS:
        assert (ASSETS / f"{collection}.svg").read_text().startswith("<svg")


def test_demo_shop_head_has_headers_and_no_body(client: httpx.Client) -> None:
    get = client.get("/products/smartwatch")
    r = client.head("/products/smartwatch")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == get.headers["content-length"]
    r = client.head("/assets/shop.css")
    assert r.status_code == 200 and r.content == b"" and "cache-control" in r.headers
    assert client.head("/products/nope").status_code == 404
