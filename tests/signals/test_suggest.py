"""Route rules mined from traffic (signals.suggest): templates, kinds and evidence, checked on six
public storefront schemes it was not written for, and on the cases it must refuse."""

from __future__ import annotations

import tomllib

import pytest

from signals.accesslog import AccessLogCounts, parse_line, parse_lines
from signals.events import PAGE_KINDS
from signals.routes import RouteTable
from signals.suggest import IDSLUG, NUM, TOKEN, Miner, render_toml, token_type
from tests.storefront_schemes import SCHEMES, generate


def _mine(lines: list[str]) -> str:
    miner = Miner()
    for line in parse_lines(lines, AccessLogCounts()):
        miner.add(line.method, line.path, line.query.decode("latin-1"), line.status,
                  line.session or line.client, line.ts)
    return render_toml(miner.suggest())


def _kind(table: RouteTable, text: str) -> str | None:
    line = parse_line(text)
    assert line is not None
    ev = table.match(line.method, line.path, line.query, 0.0)
    if ev is None or line.status >= 400 or (300 <= line.status < 400 and ev.kind in PAGE_KINDS):
        return None
    return None if ev.kind.slug == "page_view" else ev.kind.slug


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_suggested_rules_recognise_public_storefront_schemes(scheme: str) -> None:
    rows = generate(scheme, shoppers=240, seed=11)
    config = tomllib.loads(_mine([line for line, _ in rows]))
    table = RouteTable.from_config(config["preset"], config["rules"])
    labelled = [(_kind(table, line), want) for line, want in rows]
    events = [(got, want) for got, want in labelled if want is not None]
    recognised = sum(1 for got, want in events if got == want)
    assert recognised / len(events) >= 0.9, [x for x in events if x[0] != x[1]][:8]
    wrong = [(got, want) for got, want in labelled
             if got in ("purchase", "cart_add", "cart_remove") and got != want]
    assert wrong == []


def test_segment_types() -> None:
    assert token_type("123") == NUM and token_type("12-blue-shirt.html") == IDSLUG
    assert token_type("blue-shirt_12") == IDSLUG
    assert token_type("2a88d9b59d474c7e869d8071649be43c") == TOKEN
    assert token_type("a8Fk29dkLq0x") == TOKEN
    assert token_type("headphones") is None and token_type("blue-shirt") is None


def _lines(*rows: tuple[str, str, int, str]) -> list[str]:
    return [f'1.2.3.4 - - [22/Nov/2026:10:00:{i % 60:02d} +0000] "{m} {url} HTTP/1.1" {st} 1 '
            f'"-" "UA" "{sid}"' for i, (m, url, st, sid) in enumerate(rows)]


def test_a_cart_page_is_no_cart_add_and_apis_are_ignored() -> None:
    text = _mine(_lines(*[("GET", "/basket", 200, f"s{i}") for i in range(9)],
                        *[("GET", f"/api/v2/stock/{i}", 200, f"s{i}") for i in range(9)],
                        *[("POST", "/basket/add", 302, f"s{i}") for i in range(4)]))
    rules = tomllib.loads(text)["rules"]
    adds = [r for r in rules if r["kind"] == "cart_add"]
    assert adds == [{"name": "cart-add", "kind": "cart_add", "path": "/basket/add",
                     "method": "POST"}]
    assert {"name": "ignore", "kind": "ignore", "path": "/api/**", "method": "*"} in rules
    assert "cart page ('basket'): a page view, not an add" in text


def test_words_in_other_languages_and_a_locale_prefix() -> None:
    rows = []
    for i in range(12):
        rows += [("GET", f"/de/produkt/{100 + i}", 200, f"s{i}"),
                 ("GET", f"/fr/produkt/{200 + i}", 200, f"s{i}"),
                 ("GET", f"/suche?suche=tisch{i}", 200, f"s{i}"),
                 ("POST", "/warenkorb/hinzufuegen", 303, f"s{i}"),
                 ("GET", "/de/angebote", 200, f"s{i}"),
                 ("POST", "/kasse/bestellen", 303, f"s{i}"),
                 ("GET", "/kasse/danke", 200, f"s{i}")]
    config = tomllib.loads(_mine(_lines(*rows)))
    table = RouteTable.from_config(config["preset"], config["rules"])
    assert table.match("GET", "/it/produkt/7", b"", 0.0).kind.slug == "product_view"  # type: ignore[union-attr]
    assert table.match("GET", "/produkt/7", b"", 0.0).kind.slug == "product_view"  # type: ignore[union-attr]
    got = {r["kind"]: r for r in config["rules"]}
    assert got["search"]["capture"] == {"query": "suche"}
    assert got["cart_add"]["path"] == "/warenkorb/hinzufuegen"
    assert got["deal_view"]["path"] == "/**/angebote"
    assert got["purchase"]["path"] == "/kasse/danke"  # 'danke' right after the order POST


def test_output_is_a_config_that_compiles_and_explains_itself() -> None:
    text = _mine([line for line, _ in generate("shopify", shoppers=40)])
    config = tomllib.loads(text)
    RouteTable.from_config(config["preset"], config["rules"])
    blocks = text.split("[[rules]]")[1:]
    assert len(blocks) == len(config["rules"])
    for block in text.split("[[rules]]")[:-1]:
        comment = block.strip().splitlines()[-3:]
        assert comment[0].startswith("# ") and "confidence" in comment[0]
        assert comment[1].startswith("# why: ") and comment[2].startswith("# e.g. ")


def test_memory_per_path_is_bounded_whatever_the_query_keys() -> None:
    miner = Miner()
    for i in range(500):
        miner.add("GET", "/p/1", f"k{i}=a&v=b{i}")
    st = miner.paths[("GET", "/p/1")]
    assert len(st.key_hits) <= 64 and all(len(v) <= 16 for v in st.keys.values())
    assert st.count == 500


def test_a_success_page_after_a_newsletter_post_is_no_purchase() -> None:
    rows = []
    for i in range(12):
        rows += [("POST", "/newsletter/subscribe", 302, f"s{i}"),
                 ("GET", "/newsletter/success", 200, f"s{i}")]
    text = _mine(_lines(*rows))
    assert 'kind = "purchase"' not in text and "/newsletter/success" in text
