"""The merchandiser page's Experiments panel in a real headless Chromium, as the rest of the page
is tested (tests/e2e/test_ui_browser.py): lift by class from live traffic, the metric switch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.browser import chromium
from tests.e2e.test_experiments import BROWSER, PERSONAS, SimOrigin, device_cookie, shop
from tests.e2e.test_ui_browser import SHOTS
from tests.servers import serve_in_thread

TOKEN = "browser-" + "e" * 24

pytestmark = pytest.mark.slow


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium(SHOTS.name) as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})


@pytest.fixture
def proxy(make_proxy: Callable[..., str]) -> Iterator[str]:
    with serve_in_thread(SimOrigin("price-sensitive-researcher")) as upstream:
        yield make_proxy(upstream, preset="shopify", expose_headers=True, admin_token=TOKEN,
                         experiment="panel", holdout_share=0.3, bot_max_rate=100_000,
                         budget_ms=1000)


def test_ui_experiments_panel_shows_lift_by_class(proxy: str, page: Any) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for i in range(25):
            for persona in ("price", "search"):
                shop(c, persona, device_cookie(f"ui-{persona}-{i}"))
    assert len(PERSONAS) >= 2
    page.goto(f"{proxy}/_intentgate/ui/#experiments")
    page.fill("#token", TOKEN)
    page.click("#login-form button[type=submit]")
    row = page.wait_for_selector("#lift-table tr[data-class='price-sensitive-researcher']")
    text = row.inner_text()
    assert text.startswith("Price") and "%" in text and " / " in text
    assert "Running: panel, holdout share 30.0 %" in page.inner_text("#experiment-status")
    sentences = page.inner_text("#lift-sentences")
    assert "price-sensitive-researcher: " in sentences and " vs " in sentences
    assert len(page.query_selector_all("#lift-table tr[data-class]")) == 2
    page.screenshot(path=str(SHOTS / "5-experiments.png"), full_page=True)
    # Switching the conversion metric reloads the report: every session reached the offer page,
    # and a cart add comes before each purchase, so cart rates are never below purchase rates.
    purchase = page.inner_text("#lift-table tr[data-class='search-led-browser'] td:nth-child(2)")
    page.select_option("#experiment-metric", "cart")
    page.wait_for_selector("#experiment-report[data-metric='cart'] #lift-table")
    cart = page.inner_text("#lift-table tr[data-class='search-led-browser'] td:nth-child(2)")
    assert float(cart.split()[0]) >= float(purchase.split()[0])
