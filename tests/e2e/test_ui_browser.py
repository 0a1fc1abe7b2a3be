"""The merchandiser page in a real headless Chromium (Debian's ``chromium``, driven by
Playwright for Python with ``executable_path``): sign in, segment cards, a session's class
change with its signals, activate and roll back a model — on the admin listener, while shoppers
use the public port. Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.models import bundled_model_bytes
from tests.browser import ARTIFACTS, chromium

SHOTS = ARTIFACTS / "ui"
TOKEN = "browser-" + "b" * 24
AUTH = {"authorization": f"Bearer {TOKEN}"}
BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}

pytestmark = pytest.mark.slow


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium(SHOTS.name) as browser:
        yield browser.new_page(viewport={"width": 1280, "height": 900})


@pytest.fixture
def proxy(origin: str, make_split_proxy: Callable[..., tuple[str, str]]) -> tuple[str, str]:
    """``(public_url, admin_url)``: the page lives on the admin listener only."""
    return make_split_proxy(origin, admin_token=TOKEN, expose_headers=True,
                            bot_max_rate=10_000.0, budget_ms=200.0)  # no fail-open under load


def _candidate(proxy: str) -> str:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["display_name"] += " (candidate)"
    r = httpx.post(f"{proxy}/_intentgate/api/models", headers=AUTH, content=seal(content))
    assert r.status_code == 201
    return str(r.json()["version"])


def _model_header(proxy: str) -> str:
    return httpx.get(f"{proxy}/echo", headers=BROWSER).headers["x-intent-model"]


def test_ui_refuses_a_wrong_token(proxy: tuple[str, str], page: Any) -> None:
    public, admin = proxy
    assert httpx.get(f"{public}/_intentgate/ui/").status_code == 404
    page.goto(f"{admin}/_intentgate/ui/")
    page.fill("#token", "not-the-token-at-all")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('not accepted')")
    assert page.is_hidden("#app")
    page.screenshot(path=str(SHOTS / "0-wrong-token.png"))


def test_ui_sign_in_segments_session_change_and_model_activate_rollback(
    proxy: tuple[str, str], page: Any
) -> None:
    public, admin = proxy
    bundled = load_model(bundled_model_bytes()).version
    with httpx.Client(base_url=public, headers=BROWSER) as c:
        for path in ["/products/red-shoe", "/products/blue-shoe"] + [
                "/pages/compare?products=red-shoe,blue-shoe"] * 4:
            assert c.get(path).status_code == 200
        sid = c.cookies["ig_sid"]
    candidate = _candidate(admin)

    # Sign in: the token goes to sessionStorage; segment cards and the chart appear.
    page.goto(f"{admin}/_intentgate/ui/")
    page.fill("#token", TOKEN)
    page.click("#login-form button[type=submit]")
    card = page.wait_for_selector(".card[data-slug='comparison-shopper']")
    assert "Comparison shopper" in card.inner_text() and "100.0 %" in card.inner_text()
    page.wait_for_selector("#chart svg rect")
    assert page.evaluate("sessionStorage.length") == 1
    page.screenshot(path=str(SHOTS / "1-overview.png"), full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})
    page.screenshot(path=str(SHOTS / "1-overview-tablet.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Session lookup: the timeline shows the class change and the signals behind it.
    page.click(".tab[data-view='sessions']")
    page.select_option("#lookup-kind", "session")
    page.fill("#session-id", sid)
    page.click("#lookup-form button[type=submit]")
    change = page.wait_for_selector("#session-timeline li.change")
    text = change.inner_text()
    assert "Became Comparison shopper" in text and "was Undetermined" in text
    assert "Because of:" in text and "%" in text
    assert page.inner_text("#session-class") == "Comparison shopper"
    assert "comparisons in" in page.inner_text("#session-signals")
    assert len(page.query_selector_all("#session-timeline li")) == 7  # 6 events + 1 change
    page.wait_for_selector("#decisions tr td")
    page.screenshot(path=str(SHOTS / "2-session.png"), full_page=True)

    # Models: activate the candidate, then roll back; the proxy's headers follow.
    page.click(".tab[data-view='models']")
    page.click(f"button[data-activate='{candidate}']")
    page.wait_for_selector(f"tr[data-version='{candidate}'] .badge.active")
    assert _model_header(public) == candidate
    page.screenshot(path=str(SHOTS / "3-models-activated.png"), full_page=True)
    page.click(f"button[data-shadow='{bundled}']")
    page.wait_for_selector("#agreement")
    page.click("#rollback")
    page.wait_for_selector(f"tr[data-version='{bundled}'] .badge.active")
    assert _model_header(public) == bundled
    page.screenshot(path=str(SHOTS / "4-models-rolled-back.png"), full_page=True)

    # Drift panel.
    page.click(".tab[data-view='drift']")
    page.wait_for_selector("#drift-status")
    drift = page.inner_text("#drift")
    # A handful of requests is too little to measure drift: the panel shows no figures then.
    assert "not enough traffic yet" in drift and "population stability index" not in drift
    page.screenshot(path=str(SHOTS / "5-drift.png"), full_page=True)
    assert not page.inner_text("#error")
    # The page's own requests went to the admin listener and were audited there.
    actions = httpx.get(f"{admin}/_intentgate/api/actions", headers=AUTH).json()["actions"]
    assert [a["action"] for a in reversed(actions)] == [
        "model.upload", "model.activate", "model.shadow", "model.rollback"]
    assert {a["token"] for a in actions} == {"admin"}
