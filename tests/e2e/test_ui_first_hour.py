"""A new user's first hour in Chromium: a shopper browses the demo shop on a laptop, signs in,
then continues on a phone and signs in there too; the merchandiser finds them by customer id
and the page tells one story at laptop and tablet widths. No console errors anywhere; a
headless browser's footer says why it was not classified; with the admin API off the page says
so. Screenshots (small PNGs) go to test-artifacts/first-hour/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.browser import ARTIFACTS, chromium

SHOTS = ARTIFACTS / "first-hour"
TOKEN = "first-hour-" + "t" * 24
AUTH = {"authorization": f"Bearer {TOKEN}"}
LAPTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
PHONE_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"
WIDTHS = {"laptop": (1280, 860), "tablet": (768, 1024)}

pytestmark = pytest.mark.slow


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium(SHOTS.name) as b:
        yield b


def _context(browser: Any, ua: str | None, width: str = "laptop") -> tuple[Any, Any, list[str]]:
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h},
                              **({"user_agent": ua} if ua else {}))
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Which requests failed, so a deliberate 4xx can be told from an accidental one.
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
            if r.status >= 400 else None)
    return ctx, page, errors


def _only_deliberate(errors: list[str], *deliberate: str) -> None:
    """Every console error is the browser's line for one of the ``deliberate`` failed URLs."""
    failed = [e for e in errors if e.startswith("HTTP ")]
    console = [e for e in errors if not e.startswith("HTTP ")]
    assert sorted(f.split(" ", 2)[2].split("/", 3)[3] for f in failed) == sorted(deliberate), \
        errors
    assert len(console) == len(deliberate), errors
    assert all("404" in c for c in console), errors


def _shot(page: Any, name: str) -> None:
    # JPEG-like sizes matter in a repository: a viewport shot, not the full page, at scale 1.
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_two_devices_then_the_merchandiser_page_at_two_widths(
    shop: str, make_proxy: Callable[..., str], browser: Any,
) -> None:
    # A generous budget: on a loaded machine a first request over the 2 ms default fails open,
    # and a request that fails open sets no session cookie, so the journey would restart.
    proxy = make_proxy(shop, expose_headers=True, admin_token=TOKEN, bot_max_rate=10_000.0,
                       budget_ms=200.0)

    # The laptop: compare phones, one broken link, then sign in.
    ctx, laptop, laptop_errors = _context(browser, LAPTOP_UA)
    for path in ("/products/phone-pro", "/pages/compare?products=phone-pro,phone-lite",
                 "/pages/compare?products=phone-pro,phone-fold"):
        laptop.goto(proxy + path)
    laptop.wait_for_selector("footer#intent li")
    assert "comparison-shopper" in laptop.inner_text("footer#intent")
    laptop.goto(proxy + "/products/no-such-phone")  # a 404: its event is undone
    laptop.goto(proxy + "/account/login")
    laptop.fill("input[name=user]", "alice-1001")
    laptop.click("form[action='/account/login'] button")
    laptop.wait_for_url(proxy + "/")
    _shot(laptop, "0-shop-laptop-signed-in")
    ctx.close()

    # The phone: price research, sign in, more research. The class follows the profile.
    ctx, phone, phone_errors = _context(browser, PHONE_UA, "tablet")
    for handle in ("phones", "audio", "laptops"):
        phone.goto(f"{proxy}/collections/{handle}?sort_by=price-ascending")
    phone.goto(proxy + "/account/login")
    phone.fill("input[name=user]", "alice-1001")
    phone.click("form[action='/account/login'] button")
    phone.wait_for_url(proxy + "/")
    for handle in ("cameras", "home", "wearables"):
        phone.goto(f"{proxy}/collections/{handle}?sort_by=price-ascending")
    sent = phone.inner_text("footer#intent li:first-child strong")
    ctx.close()
    _only_deliberate(laptop_errors, "products/no-such-phone")
    _only_deliberate(phone_errors)

    for width in WIDTHS:
        ctx, page, errors = _context(browser, None, width)
        page.goto(f"{proxy}/_intentgate/ui/")
        page.fill("#token", TOKEN)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#legend li")
        _shot(page, f"1-overview-{width}")
        page.click(".tab[data-view='sessions']")
        # A failed lookup says why next to the form, in view at this width.
        page.fill("#session-id", "nobody-here")
        page.click("#lookup-form button[type=submit]")
        err = page.wait_for_selector("#lookup-error:has-text('no profile for that customer id')")
        assert err.is_visible() and _in_viewport(page, "#lookup-error")
        # The shop's customer id finds the shopper; class now is what the shop is sent now.
        page.fill("#session-id", "alice-1001")
        page.click("#lookup-form button[type=submit]")
        page.wait_for_selector("#session-timeline li.merge")
        assert page.inner_text("#session-class") == _display(proxy, sent)
        assert "2 devices" in page.inner_text("#session-who")
        timeline = page.inner_text("#session-timeline")
        assert "device 1" in timeline and "device 2" in timeline
        assert timeline.count("Signed in") == 2
        assert len(page.query_selector_all("#session-timeline li.undone")) == 1
        text = page.inner_text("#session-view")
        for jargon in ("SD", "1 seconds", "units"):
            assert jargon not in text, jargon
        _shot(page, f"2-shopper-{width}")
        page.click(".tab[data-view='models']")
        page.wait_for_selector("#shadow p")
        page.click(".tab[data-view='drift']")
        page.wait_for_selector("#drift-status")
        drift = page.inner_text("#drift")
        if "not enough traffic" in drift:
            assert "population stability" not in drift and "shifted" not in drift
        _shot(page, f"3-drift-{width}")
        _only_deliberate(errors, "_intentgate/api/customers/nobody-here")
        ctx.close()


def test_a_headless_browser_is_told_why_and_the_page_says_when_admin_is_off(
    shop: str, make_proxy: Callable[..., str], browser: Any,
) -> None:
    proxy = make_proxy(shop, expose_headers=True)  # no admin token: the admin API is off
    ctx, page, errors = _context(browser, None)  # Chromium's own headless user agent
    page.goto(proxy + "/products/phone-pro")
    page.wait_for_selector("#intent-skipped:has-text('bot: automation user agent')")
    _shot(page, "4-shop-headless-reason")
    page.goto(f"{proxy}/_intentgate/ui/")
    page.wait_for_selector("#login-error:has-text('admin API is off')")
    assert "not accepted" not in page.inner_text("#login-error")
    _shot(page, "5-admin-off")
    _only_deliberate(errors)
    ctx.close()


def _display(proxy: str, slug: str) -> str:
    segs = httpx.get(f"{proxy}/_intentgate/api/segments", headers=AUTH).json()["segments"]
    return {c["slug"]: c["display_name"] for c in segs}.get(slug, "Undetermined")


def _in_viewport(page: Any, selector: str) -> bool:
    return bool(page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0"
        " && r.right <= window.innerWidth; }", selector))
