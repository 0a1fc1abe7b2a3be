"""Unmatched routes, live: the proxy's bounded sample of requests no rule decides, served by
``GET /_intentgate/api/routes/unmatched`` and shown (with suggested rules) on the merchandiser
page in a real Chromium. The upstream is a storefront no preset covers (tests/altshop.py)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from signals.routes import RouteTable
from signals.unmatched import SAMPLE_ALL, UnmatchedRoutes, scrub_query
from tests.altshop import browse, create_altshop
from tests.browser import chromium
from tests.servers import serve_in_thread

TOKEN = "routes-" + "r" * 24
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def shop() -> Iterator[str]:
    with serve_in_thread(create_altshop(lambda line: None)) as url:
        yield url


@pytest.fixture
def proxy(shop: str, make_proxy: Callable[..., str]) -> str:
    # Only one shop rule: everything else is unmatched.
    return make_proxy(shop, admin_token=TOKEN, bot_max_rate=1e9, preset="none",
                      rules=({"kind": "search", "path": "/**/s", "query": {"query": "*"},
                              "capture": {"query": "query"}},))


def test_the_sample_is_bounded_and_drops_query_values() -> None:
    u = UnmatchedRoutes(queue=50, max_paths=10)
    table = RouteTable.from_config("none", [{"kind": "search", "path": "/s"}])
    for i in range(SAMPLE_ALL + 800):
        u.offer("GET", f"/p/{i}-x.html", b"email=a%40b.c&sort=price-asc", float(i))
    assert u.seen == SAMPLE_ALL + 800
    report = u.report(table)
    assert report["sampled"] <= 50  # the queue holds at most 50 between two reports
    assert report["distinct_paths"] <= 10 and report["dropped"] > 0
    text = str(report)
    assert "a%40b.c" not in text and "email=" in text and "sort=price-asc" in text
    assert scrub_query("q=secret&sort=price-desc&x") == "q=&sort=price-desc&x="
    u.offer("GET", "/s", b"", 1.0)  # decided by a rule: not counted in the sample
    assert u.report(table)["sampled"] == report["sampled"]


def test_api_serves_unmatched_templates_and_suggested_rules(proxy: str, shop: str) -> None:
    browse(proxy, shoppers=12, seed=5)
    r = httpx.get(f"{proxy}/_intentgate/api/routes/unmatched", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["seen"] > 100 and body["sampled"] > 100
    by_template = {t["template"]: t for t in body["templates"]}
    product = next(t for k, t in by_template.items() if k.startswith("/p/<id-slug>.html"))
    assert product["kind"] == "product_view" and product["count"] >= 10
    compared = [e for t in body["templates"] for e in t["examples"] if "ids=" in e]
    assert compared and all(e.endswith("?ids=") for e in compared)  # values dropped
    assert not any(k.startswith("/s") for k in by_template)  # the rule decides search
    rules = tomllib.loads(body["rules_toml"])["rules"]
    assert {"product_view", "category_view", "cart_add"} <= {x["kind"] for x in rules}
    assert httpx.get(f"{proxy}/_intentgate/api/routes/unmatched").status_code == 401


@pytest.mark.slow
def test_merchandiser_page_shows_unmatched_routes_and_suggests_rules(proxy: str) -> None:
    browse(proxy, shoppers=8, seed=9)
    with chromium() as browser:
        page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{proxy}/_intentgate/ui/")
        page.fill("#token", TOKEN)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#app:not([hidden])")
        page.click(".tab[data-view='routes']")
        page.wait_for_selector("#unmatched tr.unmatched-row")
        table = page.inner_text("#unmatched")
        assert "/p/<id-slug>.html" in table and "product_view" in table
        assert page.is_hidden("#suggested-rules")
        page.click("#suggest-rules")
        rules = page.inner_text("#suggested-rules")
        assert 'kind = "product_view"' in rules and "[[rules]]" in rules
        assert not page.inner_text("#error")


def test_page_kind_reads_schema_org_og_type_and_cart_forms() -> None:
    from signals.pagetype import page_kind

    ld = (b'<script type="application/ld+json">{"@context":"https://schema.org",'
          b'"@type":"BreadcrumbList"}</script><script type="application/ld+json">'
          b'{"@type": "Product", "name": "Lamp"}</script>')
    assert page_kind(ld) == "product_view"
    assert page_kind(b'<div itemscope itemtype="https://schema.org/ItemList">') == "category_view"
    assert page_kind(b'{"@type":"SearchResultsPage"}') == "search"
    assert page_kind(b'<meta property="og:type" content="product">') == "product_view"
    assert page_kind(b'<meta content="og:product" property="og:type">') == "product_view"
    assert page_kind(b'<form method="post" action="/bag/items">') == "product_view"
    assert page_kind(b'<meta property="og:type" content="website"><h1>About</h1>') is None
    assert page_kind(b"x" * 20000 + b'{"@type":"Product"}') is None  # past the bytes read


async def _goods(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = (b'<!doctype html><html><head><script type="application/ld+json">{"@type":"Product"}'
            b"</script></head><body>goods</body></html>")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize("sniff", [False, True])
def test_sniffed_markup_is_evidence_for_a_template_words_cannot_name(
        sniff: bool, make_proxy: Callable[..., str]) -> None:
    with serve_in_thread(_goods) as origin:
        proxy = make_proxy(origin, admin_token=TOKEN, bot_max_rate=1e9, preset="none",
                           sniff_page_types=sniff, budget_ms=5000.0)
        headers = {"user-agent": "Mozilla/5.0", "accept": "text/html", "accept-language": "en"}
        with httpx.Client(base_url=proxy, headers=headers) as c:
            for _ in range(4):
                for slug in ("alpha", "bravo", "charlie", "delta", "echo"):
                    assert c.get(f"/goods/{slug}").status_code == 200
        body = httpx.get(f"{proxy}/_intentgate/api/routes/unmatched", headers=AUTH).json()
    goods = next(t for t in body["templates"] if t["template"].startswith("/goods/"))
    if sniff:
        assert body["sniffed"] == 15  # three answers per path, five paths
        assert goods["kind"] == "product_view" and "page markup says product_view" in \
            goods["why"][0]
    else:
        assert body["sniffed"] == 0 and goods["kind"] == "page"
