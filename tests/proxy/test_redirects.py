"""Redirects are not page views: through a real proxy in front of a real storefront whose forms
answer POST-redirect-GET (tests/altshop.py)."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proxy.app import ProxyApp, build_runtime, create_app
from proxy.config import load_settings
from proxy.server import ServerLimits, uvicorn_kwargs
from signals.events import EventKind, ShopperEvent
from signals.state import PV_TOTAL, REVISITS, SessionState
from tests.altshop import HAND_RULES, create_altshop, product_url
from tests.servers import serve_in_thread

BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, ProxyApp]]:
    shop_log: list[str] = []
    rules = tomllib.loads(HAND_RULES)
    with serve_in_thread(create_altshop(shop_log.append)) as shop:
        settings = load_settings(environ={}, overrides={
            "upstream": shop, "secret": "s" * 32, "data_dir": str(tmp_path), "min_events": 0,
            "admin_token": "t" * 32, "bot_max_rate": 1e9, "preset": "none",
            "rules": tuple(rules["rules"])})
        app = create_app(settings)
        kwargs = uvicorn_kwargs(ServerLimits())
        kwargs.pop("loop")
        with serve_in_thread(app, **kwargs) as url:
            yield url, app


def _state(app: ProxyApp) -> SessionState:
    states = list(app.runtime.engine.store._states.data.values())  # type: ignore[attr-defined]
    assert len(states) == 1
    got = states[0]
    return got[0] if isinstance(got, tuple) else got  # type: ignore[no-any-return]


def test_post_redirect_get_counts_the_add_once_and_the_product_once(
        served: tuple[str, ProxyApp]) -> None:
    url, app = served
    metrics = app.runtime.engine.metrics
    page = product_url(101)
    with httpx.Client(base_url=url, headers=BROWSER, follow_redirects=True) as c:
        assert c.get(page).status_code == 200
        r = c.post("/bag/items", data={"id": "101"}, headers={"referer": url + page})
        # POST answered 303, then the browser GETs the product page again.
        assert r.status_code == 200 and r.history[0].status_code == 303
        assert str(r.url).endswith(page)
    assert metrics.events["cart_add"] == 1
    assert metrics.reverted_events == 0
    st = _state(app)
    assert st.v[EventKind.CART_ADD] > 0.99
    assert st.v[PV_TOTAL] == 1.0 and st.v[REVISITS] == 0.0  # the echo is not a revisit


def test_a_redirect_undoes_the_page_event_and_the_target_counts(
        served: tuple[str, ProxyApp]) -> None:
    url, app = served
    metrics = app.runtime.engine.metrics
    with httpx.Client(base_url=url, headers=BROWSER, follow_redirects=True) as c:
        r = c.get("/p/101-an-old-name.html")  # 301 to the canonical slug
        assert r.status_code == 200 and r.history[0].status_code == 301
        c.get("/p/999-missing.html")  # 404
    assert metrics.reverted_events == 2  # the 301 and the 404
    st = _state(app)
    assert st.v[PV_TOTAL] == 1.0 and st.v[REVISITS] == 0.0


def test_a_real_revisit_still_counts_after_the_echo_window() -> None:
    st = SessionState()
    view = ShopperEvent(EventKind.PRODUCT_VIEW, 100.0, "p1")
    st.apply(view)
    st.apply(ShopperEvent(EventKind.CART_ADD, 101.0, "p1"))
    echo = ShopperEvent(EventKind.PRODUCT_VIEW, 101.5, "p1")
    st.apply(echo)  # the GET after the cart add's redirect
    assert st.v[PV_TOTAL] == 1.0 and st.v[REVISITS] == 0.0
    st.revert(echo)  # undoing an echo changes nothing
    assert st.v[PV_TOTAL] == 1.0 and st.v[REVISITS] == 0.0
    st.apply(ShopperEvent(EventKind.CATEGORY_VIEW, 110.0, category="c"))
    st.apply(ShopperEvent(EventKind.PRODUCT_VIEW, 120.0, "p1"))  # another page in between
    assert st.v[PV_TOTAL] == 2.0 and st.v[REVISITS] == 1.0
    st.apply(ShopperEvent(EventKind.PRODUCT_VIEW, 200.0, "p1"))  # same page, much later
    assert st.v[PV_TOTAL] == 3.0 and st.v[REVISITS] == 2.0
    st.apply(ShopperEvent(EventKind.PRODUCT_VIEW, 201.0, "p1"))  # a reload: no add before it
    assert st.v[PV_TOTAL] == 4.0 and st.v[REVISITS] == 3.0
    st.apply(ShopperEvent(EventKind.WISHLIST_ADD, 202.0, "p1"))
    st.apply(ShopperEvent(EventKind.PRODUCT_VIEW, 203.0, "p1"))  # after the wishlist redirect
    assert st.v[PV_TOTAL] == 4.0 and st.v[REVISITS] == 3.0


def test_startup_logs_the_rules_loaded_per_source(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    build_runtime({"rules": [{"kind": "search", "path": "/s"}], "data_dir": str(tmp_path),
                   "preset": "demo"})
    line = next(r.getMessage() for r in caplog.records if "route rules" in r.getMessage())
    assert "1 from the config file" in line and "from preset demo" in line
