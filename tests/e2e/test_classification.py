"""The whole path: a browser-like shopper, the real proxy, the real demo storefront on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "accept": "text/html,application/xhtml+xml", "accept-language": "en-GB,en;q=0.9",
}
TOKEN = "admin-token-for-tests-0123"


@pytest.fixture
def proxy(shop: str, make_proxy: Callable[..., str], tmp_path: Path) -> str:
    return make_proxy(shop, expose_headers=True, admin_token=TOKEN, record_events=True,
                      record_dir=str(tmp_path / "events"))


def _shopper(proxy: str) -> httpx.Client:
    return httpx.Client(base_url=proxy, headers=BROWSER, follow_redirects=False)


def _class(r: httpx.Response) -> str | None:
    return r.headers.get("x-intent-class")


def test_classification_follows_behaviour_and_changes_within_a_session(proxy: str) -> None:
    with _shopper(proxy) as c:
        assert _class(c.get("/products/phone-pro")) == "undetermined"  # not enough signal yet
        c.get("/products/phone-lite")
        for products in ("phone-pro,phone-lite", "phone-pro,phone-fold", "phone-lite,rugged-phone"):
            r = c.get(f"/pages/compare?products={products}")
        assert _class(r) == "comparison-shopper"
        assert r.headers["x-intent-signals"].startswith("comparisons=")
        conf = float(r.headers["x-intent-confidence"])
        assert 0.0 < conf <= 1.0 and len(r.headers["x-intent-confidence"]) == 4
        # The same session turns to price research: decayed state lets the class move.
        for handle in ("audio", "laptops", "phones", "cameras", "home", "wearables") * 2:
            r = c.get(f"/collections/{handle}?sort_by=price-ascending")
        assert _class(r) == "price-sensitive-researcher"
        assert "price_sorts=" in r.headers["x-intent-signals"]


def test_classification_headers_reach_the_origin_and_show_in_the_footer(proxy: str) -> None:
    with _shopper(proxy) as c:
        for _ in range(3):
            r = c.get("/search?q=headphones")
        assert "What intentgate told this shop" in r.text
        assert f"<strong>{_class(r)}</strong>" in r.text  # the shop saw what the client sees
        assert "x-intent-model" in r.text.lower()


def test_classification_ignores_client_spoofed_class(proxy: str) -> None:
    with _shopper(proxy) as c:
        r = c.get("/", headers={"X-Intent-Class": "decisive-buyer", "X-Intent-Profile": "evil"})
        assert "decisive-buyer" not in r.text and "evil" not in r.text
        assert _class(r) == "undetermined"


def test_classification_sets_signed_session_and_device_cookies_once(proxy: str) -> None:
    with _shopper(proxy) as c:
        r = c.get("/")
        cookies = r.headers.get_list("set-cookie")
        assert any(v.startswith("ig_sid=") and "HttpOnly" in v and "SameSite=Lax" in v
                   for v in cookies)
        assert any(v.startswith("ig_did=") for v in cookies)
        r = c.get("/")  # a plain page view: no event, nothing to refresh
        assert not any(v.startswith("ig_did=") for v in r.headers.get_list("set-cookie"))


def test_classification_forged_cookie_is_replaced(proxy: str) -> None:
    r = httpx.get(f"{proxy}/", headers=BROWSER, cookies={"ig_sid": "forged.value"})
    assert any(v.startswith("ig_sid=") and "forged" not in v
               for v in r.headers.get_list("set-cookie"))


def test_classification_leaves_bots_untouched(proxy: str) -> None:
    r = httpx.get(f"{proxy}/products/phone-pro", headers={"user-agent": "Googlebot/2.1"})
    assert r.status_code == 200 and _class(r) is None and not r.headers.get_list("set-cookie")
    assert "no X-Intent-* headers" in r.text
    metrics = httpx.get(f"{proxy}/_intentgate/metrics",
                        headers={"authorization": f"Bearer {TOKEN}"}).text
    assert 'intentgate_bots_total{reason="declared-crawler"} 1' in metrics


def test_classification_assets_produce_no_event_and_no_headers(proxy: str) -> None:
    r = httpx.get(f"{proxy}/assets/shop.css", headers=BROWSER)
    assert r.status_code == 200 and _class(r) is None


def test_classification_missing_product_does_not_count(proxy: str) -> None:
    with _shopper(proxy) as c:
        for _ in range(4):
            r = c.get("/products/no-such-thing")
            assert r.status_code == 404
        # Four 404s were reverted: still not enough signal for a class.
        assert _class(c.get("/")) == "undetermined"


def test_classification_identify_links_two_devices_to_one_profile(proxy: str) -> None:
    with _shopper(proxy) as a, _shopper(proxy) as b:
        pa = a.get("/").headers["x-intent-profile"]
        pb = b.get("/").headers["x-intent-profile"]
        assert pa != pb
        r = a.post("/account/login", data={"user": "alice@example.com"})
        assert r.status_code == 303 and "x-intent-identify" not in r.headers
        b.post("/account/login", data={"user": "alice@example.com"})
        pa2 = a.get("/").headers["x-intent-profile"]
        pb2 = b.get("/").headers["x-intent-profile"]
        assert pa2 == pb2 and "alice" not in pa2
        a.post("/account/logout")
        assert a.get("/").headers["x-intent-profile"] != pa2


def test_classification_client_sent_identify_is_ignored(proxy: str) -> None:
    with _shopper(proxy) as a, _shopper(proxy) as b:
        b.post("/account/login", data={"user": "victim"})
        victim = b.get("/").headers["x-intent-profile"]
        r = a.get("/", headers={"X-Intent-Identify": "victim"})
        assert r.headers["x-intent-profile"] != victim


def test_beacon_applies_to_own_session_and_validates(proxy: str) -> None:
    url = "/_intentgate/beacon"
    with _shopper(proxy) as c:
        c.get("/products/phone-pro")
        r = c.post(url, content=b'{"type": "dwell", "ms": 4200, "path": "/products/phone-pro"}',
                   headers={"content-type": "application/json"})
        assert r.status_code == 204
        assert c.post(url, content=b"{not json").status_code == 400
        assert "ms" in c.post(url, content=b'{"type": "dwell", "ms": -5}').json()["error"]
        assert c.post(url, content=b"x" * 5000).status_code == 413
    r = httpx.post(f"{proxy}{url}", content=b'{"type": "dwell", "ms": 100}')
    assert r.status_code == 400 and "session" in r.json()["error"]
    js = httpx.get(f"{proxy}/_intentgate/beacon.js")
    assert js.status_code == 200 and "sendBeacon" in js.text


def test_admin_health_is_open_and_metrics_need_the_token(proxy: str) -> None:
    health = httpx.get(f"{proxy}/_intentgate/health").json()
    assert health["status"] == "ok" and health["store"] == "memory" and health["model"]
    assert httpx.get(f"{proxy}/_intentgate/metrics").status_code == 401
    r = httpx.get(f"{proxy}/_intentgate/metrics", headers={"authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]
    r = httpx.get(f"{proxy}/_intentgate/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "intentgate_classify_seconds_bucket" in r.text
    assert httpx.get(f"{proxy}/_intentgate/nope").status_code == 404


def test_recorded_events_are_pseudonymous_jsonl(proxy: str, tmp_path: Path) -> None:
    with _shopper(proxy) as c:
        c.get("/products/phone-pro")
        c.get("/search?q=camera")
        c.post("/cart/add", data={"id": "phone-pro"})
        sid = c.cookies["ig_sid"]
    httpx.get(f"{proxy}/")  # any request after a second lets the buffer flush
    import time

    deadline = time.monotonic() + 5
    path = tmp_path / "events" / "events.jsonl"
    lines: list[dict] = []
    while time.monotonic() < deadline:
        time.sleep(0.3)
        httpx.get(f"{proxy}/", headers=BROWSER)
        if path.exists():
            lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
            if len(lines) >= 3:
                break
    kinds = [rec["kind"] for rec in lines]
    assert {"product_view", "search", "cart_add"} <= set(kinds)
    text = path.read_text()
    assert sid not in text and sid.split(".")[0] not in text and "127.0.0.1" not in text
    assert any(rec["query"] == "camera" for rec in lines)


def test_cookies_are_secure_only_behind_a_trusted_https_hop(
    shop: str, make_proxy: Callable[..., str]
) -> None:
    untrusted = make_proxy(shop)
    r = httpx.get(f"{untrusted}/", headers={**BROWSER, "x-forwarded-proto": "https"})
    assert not any("Secure" in v for v in r.headers.get_list("set-cookie"))
    trusted = make_proxy(shop, trusted_hops=("127.0.0.1",))
    r = httpx.get(f"{trusted}/", headers={**BROWSER, "x-forwarded-proto": "https"})
    cookies = r.headers.get_list("set-cookie")
    assert cookies and all("Secure" in v for v in cookies if v.startswith("ig_"))
    r = httpx.get(f"{trusted}/", headers=BROWSER)
    assert not any("Secure" in v for v in r.headers.get_list("set-cookie"))
