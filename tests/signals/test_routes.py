"""Rule syntax, ordering, non-events and startup errors of the route table (signals/routes.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals.errors import RuleError
from signals.events import EventKind, ShopperEvent
from signals.presets import EXPLICIT_RULES
from signals.routes import MAX_TEXT, PRESETS, RouteTable, RuleSpec, parse_query

NOW = 1_700_000_000.0

MakeTable = Callable[..., RouteTable]


@pytest.fixture
def make_table() -> MakeTable:
    def make(
        rules: Sequence[Mapping[str, Any]] = (), preset: str = "none", **kw: Any
    ) -> RouteTable:
        return RouteTable.from_config(preset, list(rules), **kw)

    return make


def ev(table: RouteTable, method: str, path: str, qs: bytes = b"") -> ShopperEvent | None:
    return table.match(method, path, qs, NOW)


# -- path patterns -----------------------------------------------------------------------------


def test_routes_placeholder_captures_segment_and_trailing_slash_is_optional(
    make_table: MakeTable,
) -> None:
    t = make_table([{"kind": "product_view", "path": "/product/{product}/"}])
    assert ev(t, "GET", "/product/red-shoe") == ShopperEvent(
        EventKind.PRODUCT_VIEW, NOW, product="red-shoe"
    )
    assert ev(t, "GET", "/product/red-shoe/") == ShopperEvent(
        EventKind.PRODUCT_VIEW, NOW, product="red-shoe"
    )
    assert ev(t, "GET", "/product/red-shoe/extra") == ShopperEvent(EventKind.PAGE_VIEW, NOW)


def test_routes_star_matches_within_a_segment_only(make_table: MakeTable) -> None:
    t = make_table([{"kind": "product_view", "path": "/on/Sites-*-Site/*/Product-Show"}])
    assert ev(t, "GET", "/on/Sites-RefArch-Site/en_US/Product-Show") is not None
    assert ev(t, "GET", "/on/Sites-Ref/Arch-Site/en_US/Product-Show") == ShopperEvent(
        EventKind.PAGE_VIEW, NOW
    )


def test_routes_double_star_matches_zero_or_more_segments(make_table: MakeTable) -> None:
    t = make_table([{"kind": "purchase", "path": "/checkouts/**/thank_you"}])
    for path in ("/checkouts/thank_you", "/checkouts/c/abc/thank_you", "/checkouts/x/thank_you/"):
        assert ev(t, "GET", path) == ShopperEvent(EventKind.PURCHASE, NOW), path


def test_routes_literal_suffix_after_placeholder(make_table: MakeTable) -> None:
    t = make_table([{"kind": "product_view", "path": "/products/{product}.html"}])
    assert ev(t, "GET", "/products/Blue-Shirt.html") == ShopperEvent(
        EventKind.PRODUCT_VIEW, NOW, product="Blue-Shirt"
    )
    assert ev(t, "GET", "/products/Blue-Shirt") == ShopperEvent(EventKind.PAGE_VIEW, NOW)


def test_routes_multi_segment_items_capture_counts_parts(make_table: MakeTable) -> None:
    t = make_table([{"kind": "compare", "path": "/compare/{items+}"}])
    assert ev(t, "GET", "/compare/111/222/333/") == ShopperEvent(EventKind.COMPARE, NOW, value=3.0)


def test_routes_root_pattern_matches_only_root(make_table: MakeTable) -> None:
    t = make_table([{"kind": "deal_view", "path": "/", "query": {"deal": "*"}}])
    assert ev(t, "GET", "/", b"deal=1") == ShopperEvent(EventKind.DEAL_VIEW, NOW)
    assert ev(t, "GET", "/x", b"deal=1") == ShopperEvent(EventKind.PAGE_VIEW, NOW)


# -- query conditions and captures -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "qs", "hit"),
    [
        ("*", b"k=", True),
        ("*", b"other=1", False),
        ("price", b"k=price", True),
        ("price", b"k=price-desc", False),
        ("price-*", b"k=price-ascending", True),
        ("price-*", b"k=name-asc", False),
        ("priceasc|pricedesc", b"k=pricedesc", True),
        ("priceasc|pricedesc", b"k=featured", False),
        ("a|b*", b"k=bee", True),
        ("0", b"k=0&k=1", True),  # first occurrence wins
        ("1", b"k=0&k=1", False),
    ],
)
def test_routes_query_condition_forms(
    make_table: MakeTable, cond: str, qs: bytes, hit: bool
) -> None:
    t = make_table([{"kind": "price_sort_or_filter", "path": "/c", "query": {"k": cond}}])
    got = ev(t, "GET", "/c", qs)
    assert got is not None
    assert (got.kind == EventKind.PRICE_SORT_OR_FILTER) is hit


def test_routes_query_key_prefix_condition(make_table: MakeTable) -> None:
    t = make_table(
        [{"kind": "price_sort_or_filter", "path": "/c", "query": {"filter.v.price.*": "*"}}]
    )
    assert ev(t, "GET", "/c", b"filter.v.price.lte=100") == ShopperEvent(
        EventKind.PRICE_SORT_OR_FILTER, NOW
    )
    assert ev(t, "GET", "/c", b"filter.v.color=red") == ShopperEvent(EventKind.PAGE_VIEW, NOW)


def test_routes_query_text_is_percent_decoded_and_bounded(make_table: MakeTable) -> None:
    t = make_table([{"kind": "search", "path": "/s", "capture": {"query": "q"}}])
    assert ev(t, "GET", "/s", b"q=caf%C3%A9+cr%C3%A8me") == ShopperEvent(
        EventKind.SEARCH, NOW, query="café crème"
    )
    long = ev(t, "GET", "/s", b"q=" + b"a" * 500)
    assert long is not None and long.query == "a" * MAX_TEXT
    blank = ev(t, "GET", "/s", b"q=+++")
    assert blank is not None and blank.query is None


def test_routes_max_text_is_configurable(make_table: MakeTable) -> None:
    t = make_table([{"kind": "product_view", "path": "/p/{product}"}], max_text=4)
    got = ev(t, "GET", "/p/abcdefgh")
    assert got is not None and got.product == "abcd"


def test_routes_value_capture_counts_items_and_parses_numbers(make_table: MakeTable) -> None:
    t = make_table(
        [
            {"kind": "compare", "path": "/cmp", "capture": {"items": "ids"}},
            {"kind": "cart_add", "method": "POST", "path": "/add",
             "capture": {"product": "id", "value": "qty"}, "value": 1},
        ]
    )
    assert ev(t, "GET", "/cmp", b"ids=a%2Cb,c,,") == ShopperEvent(EventKind.COMPARE, NOW, value=3)
    assert ev(t, "POST", "/add", b"id=42&qty=3") == ShopperEvent(
        EventKind.CART_ADD, NOW, product="42", value=3.0
    )
    # An unparsable or non-finite number keeps the rule's constant value.
    assert ev(t, "POST", "/add", b"id=42&qty=lots") == ShopperEvent(
        EventKind.CART_ADD, NOW, product="42", value=1.0
    )
    assert ev(t, "POST", "/add", b"qty=inf") == ShopperEvent(EventKind.CART_ADD, NOW, value=1.0)


def test_parse_query_first_key_wins_and_garbage_is_tolerated() -> None:
    assert parse_query(b"a=1&a=2&b&&c=%ZZ&d=%E2%82%AC") == {"a": "1", "b": "", "c": "%ZZ", "d": "€"}
    assert parse_query(b"\xff\xfe=1") == {"\ufffd\ufffd": "1"}


@given(st.text(max_size=60), st.binary(max_size=200), st.sampled_from(["GET", "POST", "BREW"]))
def test_routes_match_never_raises_on_arbitrary_requests(path: str, qs: bytes, method: str) -> None:
    table = RouteTable.from_config("auto")
    got = table.match(method, "/" + path, qs, NOW)
    assert got is None or got.ts == NOW


# -- ordering ----------------------------------------------------------------------------------


def test_routes_shop_rule_overrides_preset_rule(make_table: MakeTable) -> None:
    preset_only = make_table(preset="demo")
    assert ev(preset_only, "GET", "/pages/sale") == ShopperEvent(EventKind.DEAL_VIEW, NOW)
    t = make_table([{"name": "mine", "kind": "page_view", "path": "/pages/{category}"}], "demo")
    assert ev(t, "GET", "/pages/sale") == ShopperEvent(EventKind.PAGE_VIEW, NOW, category="sale")
    assert t.which("GET", "/pages/sale") == "rules[0] 'mine'"


def test_routes_more_query_conditions_win_over_a_bare_path(make_table: MakeTable) -> None:
    t = make_table(
        [
            {"kind": "category_view", "path": "/c/{category}"},
            {"kind": "price_sort_or_filter", "path": "/c/{category}", "query": {"sort": "price"}},
        ]
    )
    assert ev(t, "GET", "/c/shoes", b"sort=price") == ShopperEvent(
        EventKind.PRICE_SORT_OR_FILTER, NOW, category="shoes"
    )
    assert ev(t, "GET", "/c/shoes", b"sort=name") == ShopperEvent(
        EventKind.CATEGORY_VIEW, NOW, category="shoes"
    )


def test_routes_literal_segment_wins_over_placeholder_whatever_the_order(
    make_table: MakeTable,
) -> None:
    t = make_table(
        [
            {"kind": "category_view", "path": "/c/{category}"},
            {"kind": "deal_view", "path": "/c/sale"},
        ]
    )
    assert ev(t, "GET", "/c/sale") == ShopperEvent(EventKind.DEAL_VIEW, NOW)
    assert ev(t, "GET", "/c/new") == ShopperEvent(EventKind.CATEGORY_VIEW, NOW, category="new")


def test_routes_priority_overrides_specificity(make_table: MakeTable) -> None:
    t = make_table(
        [
            {"kind": "deal_view", "path": "/c/sale"},
            {"kind": "category_view", "path": "/c/{category}", "priority": 5},
        ]
    )
    assert ev(t, "GET", "/c/sale") == ShopperEvent(EventKind.CATEGORY_VIEW, NOW, category="sale")


def test_routes_wildcard_first_segment_rules_apply_in_every_bucket(make_table: MakeTable) -> None:
    t = make_table(
        [
            {"kind": "product_view", "path": "/p/{product}"},
            {"kind": "cart_add", "method": ("GET", "POST"), "path": "/**",
             "query": {"add-to-cart": "*"}, "capture": {"product": "add-to-cart"}},
        ]
    )
    assert ev(t, "GET", "/p/x", b"add-to-cart=9") == ShopperEvent(
        EventKind.CART_ADD, NOW, product="9"
    )
    assert ev(t, "POST", "/anything/deep", b"add-to-cart=9") == ShopperEvent(
        EventKind.CART_ADD, NOW, product="9"
    )
    assert ev(t, "GET", "/p/x") == ShopperEvent(EventKind.PRODUCT_VIEW, NOW, product="x")


def test_routes_method_must_match(make_table: MakeTable) -> None:
    t = make_table([{"kind": "cart_add", "method": "POST", "path": "/cart/add"}])
    assert ev(t, "POST", "/cart/add") == ShopperEvent(EventKind.CART_ADD, NOW)
    assert ev(t, "GET", "/cart/add") == ShopperEvent(EventKind.PAGE_VIEW, NOW)
    assert ev(t, "PUT", "/cart/add") is None


def test_routes_any_method_rule(make_table: MakeTable) -> None:
    t = make_table([{"kind": "checkout_step", "method": "*", "path": "/co"}])
    assert all(ev(t, m, "/co") is not None for m in ("GET", "POST", "PATCH", "DELETE"))


# -- non-events --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/assets/theme.css",
        "/cdn/shop/files/logo.PNG",
        "/static/app.min.js",
        "/fonts/a.woff2",
        "/bundle.js.map",
        "/favicon.ico",
        "/robots.txt",
        "/health",
        "/healthz",
        "/ping",
        "/_intentgate/health",
        "/_intentgate/beacon",
    ],
)
def test_routes_assets_health_and_admin_make_no_event(make_table: MakeTable, path: str) -> None:
    t = make_table(preset="auto")
    assert ev(t, "GET", path) is None
    assert ev(t, "POST", path) is None
    assert t.is_ignored(path)


def test_routes_unmatched_get_is_page_view_and_other_methods_nothing(
    make_table: MakeTable,
) -> None:
    t = make_table(preset="demo")
    assert ev(t, "GET", "/pages/about") == ShopperEvent(EventKind.PAGE_VIEW, NOW)
    assert ev(t, "POST", "/account/login") is None
    assert ev(t, "HEAD", "/pages/about") is None
    assert not t.is_ignored("/pages/about")
    assert not t.is_ignored("/account/login")


def test_routes_rule_with_literal_extension_may_match_static_looking_path(
    make_table: MakeTable,
) -> None:
    t = make_table(
        [
            {"kind": "cart_add", "method": "POST", "path": "/cart/add.js"},
            {"kind": "product_view", "path": "/products/{product}"},
        ]
    )
    assert ev(t, "POST", "/cart/add.js") == ShopperEvent(EventKind.CART_ADD, NOW)
    assert not t.is_ignored("/cart/add.js")
    # A placeholder does not swallow a JSON/JS fetch of the same resource.
    assert ev(t, "GET", "/products/shirt.js") is None
    assert t.is_ignored("/products/shirt.json")


def test_routes_ignore_rule_suppresses_event_and_page_view(make_table: MakeTable) -> None:
    t = make_table(
        [
            {"kind": "ignore", "method": "*", "path": "/search/suggest/**"},
            {"kind": "search", "path": "/search/{query}"},
        ]
    )
    assert ev(t, "GET", "/search/suggest", b"q=a") is None
    assert t.is_ignored("/search/suggest")
    assert ev(t, "GET", "/search/shoes") == ShopperEvent(EventKind.SEARCH, NOW, query="shoes")


def test_routes_ignore_rule_with_query_condition_is_not_path_wide(make_table: MakeTable) -> None:
    t = make_table([{"kind": "ignore", "method": "*", "path": "/**", "query": {"wc-ajax": "*"}}])
    assert ev(t, "POST", "/", b"wc-ajax=get_refreshed_fragments") is None
    assert ev(t, "GET", "/", b"wc-ajax=x") is None
    assert not t.is_ignored("/")
    assert ev(t, "GET", "/") == ShopperEvent(EventKind.PAGE_VIEW, NOW)


# -- configuration and errors ------------------------------------------------------------------


def test_routes_presets_names_and_every_preset_compiles() -> None:
    assert set(PRESETS) >= {"auto", "none", "demo", "shopify", "magento", "woocommerce",
                            "bigcommerce", "sfra", "generic"}
    sizes = {name: len(RouteTable.from_config(name)) for name in PRESETS}
    assert sizes["none"] == 0
    explicit = sum(len(v) for v in EXPLICIT_RULES.values())  # only when named, not in auto
    assert sizes["auto"] == sum(v for k, v in sizes.items()
                                if k not in ("auto", "none")) - explicit


def test_routes_from_config_accepts_config_file_shape(make_table: MakeTable) -> None:
    # The shape proxy/config.py hands over from TOML: a list of plain dicts.
    t = make_table([{"kind": "search", "path": "/s"}], preset="shopify")
    assert ev(t, "GET", "/s") == ShopperEvent(EventKind.SEARCH, NOW)
    assert ev(t, "GET", "/products/x") == ShopperEvent(EventKind.PRODUCT_VIEW, NOW, product="x")


def test_routes_accepts_rulespec_objects() -> None:
    spec = RuleSpec(kind="wishlist_add", method=("POST",), path="/wl/{product}")
    t = RouteTable.from_specs([spec])
    assert t.match("POST", "/wl/7", b"", NOW) == ShopperEvent(
        EventKind.WISHLIST_ADD, NOW, product="7"
    )


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"kind": "serch", "path": "/s"}, "unknown kind 'serch'"),
        ({"kind": "search", "path": "s"}, "must start with '/'"),
        ({"kind": "search", "path": "/s?q=1"}, "no query"),
        ({"kind": "search", "path": "/a//b"}, "empty segment"),
        ({"kind": "search", "path": "/s/{query"}, "unbalanced"),
        ({"kind": "search", "path": "/s/{sku}"}, "unknown capture {sku}"),
        ({"kind": "search", "path": "/s/x{query+}"}, "whole segment"),
        ({"kind": "search", "path": "/{query}/{query}"}, "captured twice"),
        ({"kind": "search", "path": "/s", "capture": {"sku": "q"}}, "unknown capture 'sku'"),
        ({"kind": "search", "path": "/s/{query}", "capture": {"query": "q"}}, "both the path"),
        ({"kind": "search", "path": "/s", "method": "FETCH"}, "bad method 'FETCH'"),
        ({"kind": "search", "path": "/s", "method": []}, "empty method list"),
        ({"kind": "search", "path": "/s", "query": {"a b": "*"}}, "bad query key"),
        ({"kind": "search", "path": "/s", "colour": "red"}, "unknown field 'colour'"),
        ({"path": "/s"}, "kind: Field required"),
        ({"kind": "search", "path": "/s", "value": float("nan")}, "finite"),
    ],
)
def test_routes_bad_rule_raises_rule_error_naming_rule_and_reason(
    rule: dict[str, Any], reason: str
) -> None:
    good = {"kind": "search", "path": "/ok"}
    with pytest.raises(RuleError) as info:
        RouteTable.from_config("demo", [good, {"name": "broken", **rule}])
    message = str(info.value)
    assert "rules[1] 'broken'" in message
    assert reason in message


def test_routes_rule_that_is_not_a_table_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match=r"rules\[0\]: must be a table"):
        RouteTable.from_config("none", ["kind=search"])  # type: ignore[list-item]


def test_routes_unknown_preset_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="unknown preset 'oscommerce'"):
        RouteTable.from_config("oscommerce")


def test_routes_rule_error_is_a_value_error() -> None:
    assert issubclass(RuleError, ValueError)
