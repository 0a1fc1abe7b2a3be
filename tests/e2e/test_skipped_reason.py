"""Reasons are visible: with exposed headers, a request intentgate did not classify says why in
``X-Intent-Skipped``; the demo footer has a slot for it; health says whether the admin API is on."""

from __future__ import annotations

from collections.abc import Callable

import httpx

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
           "accept": "text/html", "accept-language": "en"}


def test_unclassified_requests_say_why_and_classified_ones_carry_no_reason(
    origin: str, make_proxy: Callable[..., str],
) -> None:
    proxy = make_proxy(origin, expose_headers=True)
    headless = dict(BROWSER, **{"user-agent": "Mozilla/5.0 HeadlessChrome/126.0"})
    r = httpx.get(f"{proxy}/products/a", headers=headless)
    assert r.headers["x-intent-skipped"] == "bot: automation user agent"
    assert "x-intent-class" not in r.headers
    r = httpx.get(f"{proxy}/products/a", headers={"user-agent": "Googlebot/2.1"})
    assert r.headers["x-intent-skipped"] == "bot: declared crawler"
    r = httpx.get(f"{proxy}/products/a", headers={"user-agent": "Mozilla/5.0 Firefox/128.0"})
    assert r.headers["x-intent-skipped"] == "bot: no browser headers"
    r = httpx.get(f"{proxy}/assets/site.css", headers=BROWSER)
    assert r.headers["x-intent-skipped"] == "static"
    r = httpx.get(f"{proxy}/products/a", headers=BROWSER)
    assert r.headers["x-intent-class"] == "undetermined"
    assert "x-intent-skipped" not in r.headers


def test_a_budget_overrun_says_fail_open_budget(
    origin: str, make_proxy: Callable[..., str],
) -> None:
    proxy = make_proxy(origin, expose_headers=True, budget_ms=0.000001)
    with httpx.Client(base_url=proxy, headers=BROWSER) as shopper:
        r = shopper.get("/products/a")
        assert r.headers["x-intent-skipped"] == "fail-open: budget"
        assert "x-intent-class" not in r.headers
        # Too late for a class, not for the session: its cookie still goes out, and the
        # shopper's next request carries the same session on.
        first = shopper.cookies.get("ig_sid")
        assert first
        r = shopper.get("/products/b")
        assert r.headers["x-intent-skipped"] == "fail-open: budget"
        assert shopper.cookies.get("ig_sid") == first


def test_no_reason_leaves_without_exposed_headers_and_health_says_admin_is_off(
    origin: str, make_proxy: Callable[..., str],
) -> None:
    proxy = make_proxy(origin)
    r = httpx.get(f"{proxy}/products/a", headers={"user-agent": "curl/8.5"})
    assert r.status_code == 200 and "x-intent-skipped" not in r.headers
    assert httpx.get(f"{proxy}/_intentgate/health").json()["admin_api"] is False
    on = make_proxy(origin, admin_token="t" * 24)
    assert httpx.get(f"{on}/_intentgate/health").json()["admin_api"] is True
