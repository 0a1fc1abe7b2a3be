from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from proxy.demo_shop import create_demo_shop
from proxy.demo_shop.catalog import BY_COLLECTION, ON_SALE, PRODUCTS
from tests.servers import serve_in_thread


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with serve_in_thread(create_demo_shop()) as url:
        yield url


@pytest.fixture
def client(shop: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop) as c:
        yield c


def test_demo_shop_catalog_has_dozens_of_products_in_collections() -> None:
    assert len(PRODUCTS) >= 30 and len(BY_COLLECTION) >= 5 and ON_SALE


def test_demo_shop_home_links_collections_and_products(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert 'href="/collections/audio"' in r.text and 'href="/products/' in r.text
    assert '<script src="/_intentgate/beacon.js" defer></script>' in r.text


@pytest.mark.parametrize(("sort", "reverse"), [("price-ascending", False),
                                                ("price-descending", True)])
def test_demo_shop_collection_sorts_by_price(client: httpx.Client, sort: str,
                                             reverse: bool) -> None:
    r = client.get("/collections/laptops", params={"sort_by": sort})
    prices = [Decimal(p.replace(",", "")) for p in
              re.findall(r"<span class=price>€([\d,.]+)", r.text)]
    assert len(prices) == len(BY_COLLECTION["laptops"])
    assert prices == sorted(prices, reverse=reverse)


def test_demo_shop_collection_price_filter(client: httpx.Client) -> None:
    r = client.get("/collections/audio", params={"filter.v.price.lte": "100"})
    prices = [Decimal(p) for p in re.findall(r"<span class=price>€([\d.]+)", r.text)]
    assert prices and all(p <= 100 for p in prices)
    assert client.get("/collections/audio", params={"filter.v.price.lte": "x"}).status_code == 400


def test_demo_shop_product_page_and_reviews(client: httpx.Client) -> None:
    r = client.get("/products/studio-headphones")
    assert r.status_code == 200 and 'id="reviews"' in r.text and "€149.00" in r.text
    assert 'action="/cart/add"' in r.text and "/pages/compare?products=studio-headphones" in r.text
    r = client.get("/products/studio-headphones/reviews")
    assert r.status_code == 200 and "Average" in r.text


def test_demo_shop_unknown_pages_are_real_404s(client: httpx.Client) -> None:
    for path in ("/products/nope", "/collections/nope", "/products/nope/reviews", "/x/y"):
        assert client.get(path).status_code == 404


def test_demo_shop_search_finds_and_misses(client: httpx.Client) -> None:
    assert "Studio Headphones" in client.get("/search", params={"q": "headphones"}).text
    assert "No products match" in client.get("/search", params={"q": "zzzz"}).text
    assert "Type something" in client.get("/search", params={"q": ""}).text


def test_demo_shop_compare_lists_found_and_missing(client: httpx.Client) -> None:
    r = client.get("/pages/compare", params={"products": "phone-pro,phone-lite,ghost"})
    assert "Phone Pro" in r.text and "Phone Lite" in r.text and "Not found: ghost" in r.text
    assert client.get("/pages/compare").status_code == 400


def test_demo_shop_cart_add_change_remove_through_the_cookie(client: httpx.Client) -> None:
    r = client.post("/cart/add", data={"id": "smartwatch", "quantity": "2"})
    assert r.status_code == 303 and r.headers["location"] == "/cart"
    assert "Cart (2)" in client.get("/cart").text
    r = client.post("/cart/add.js", json={"id": "tripod", "quantity": 1})
    assert r.json()["item_count"] == 3
    r = client.post("/cart/change.js?quantity=0", json={"id": "tripod"})
    assert r.json()["item_count"] == 2
    r = client.post("/cart/remove", data={"id": "smartwatch"})
    assert "Your cart is empty" in client.get("/cart").text


def test_demo_shop_checkout_flow(client: httpx.Client) -> None:
    client.post("/cart/add", data={"id": "smart-lamp"})
    assert "Place order" in client.get("/checkout").text
    r = client.post("/checkout", data={"email": "a@example.com"})
    assert r.status_code == 303 and r.headers["location"] == "/checkout/thank-you"
    assert "on its way" in client.get("/checkout/thank-you").text
    assert "Your cart is empty" in client.get("/cart").text


@pytest.mark.parametrize(
    ("path", "data"),
    [("/cart/add", {}), ("/cart/add", {"id": "smartwatch", "quantity": "lots"}),
     ("/cart/add", {"id": "smartwatch", "quantity": "100000"}), ("/cart/add", {"id": "ghost"}),
     ("/account/login", {}), ("/wishlist/add", {})],
)
def test_demo_shop_bad_input_is_400_with_reason(client: httpx.Client, path: str,
                                                data: dict) -> None:
    r = client.post(path, data=data)
    assert r.status_code == 400 and "Bad request" in r.text


def test_demo_shop_bad_cart_cookie_is_ignored(shop: str) -> None:
    r = httpx.get(f"{shop}/cart", cookies={"cart": "ghost:1|smartwatch:abc|||tripod:2"})
    assert r.status_code == 200 and "Travel Tripod" in r.text and "Cart (2)" in r.text


def test_demo_shop_login_and_logout_name_the_shopper(client: httpx.Client) -> None:
    r = client.post("/account/login", data={"user": "alice"})
    assert r.status_code == 303 and r.headers["x-intent-identify"] == "alice"
    r = client.post("/account/logout")
    assert r.headers["x-intent-identify"] == "-"


def test_demo_shop_footer_echoes_intent_headers_escaped(client: httpx.Client) -> None:
    r = client.get("/", headers={"X-Intent-Class": "<b>comparison-shopper</b>"})
    assert "&lt;b&gt;comparison-shopper&lt;/b&gt;" in r.text and "<b>comparison" not in r.text
    assert "no X-Intent-* headers" in client.get("/").text


def test_demo_shop_serves_assets_and_head(client: httpx.Client) -> None:
    r = client.get("/assets/shop.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    r = client.head("/products/smartwatch")
    assert r.status_code == 200 and r.content == b""
