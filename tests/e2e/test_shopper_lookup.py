"""The merchandiser's lookup tells one story: after a shopper signs in on two devices, the class
shown is the one the proxy sends now (the profile's), the timeline has both devices' events and
the sign-ins, a failed page's event is marked undone, the shop's customer id finds the shopper,
and a decision whose history is gone says so."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

TOKEN = "lookup-token-" + "x" * 20
AUTH = {"authorization": f"Bearer {TOKEN}"}
LAPTOP = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", "accept": "text/html",
          "accept-language": "en"}
PHONE = {"user-agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile",
         "accept": "text/html", "accept-language": "en"}


@pytest.fixture
def proxy(shop: str, make_proxy: Callable[..., str]) -> str:
    return make_proxy(shop, expose_headers=True, admin_token=TOKEN, bot_max_rate=10_000.0)


def _api(proxy: str, path: str) -> httpx.Response:
    return httpx.get(f"{proxy}/_intentgate/api/{path}", headers=AUTH)


def test_two_devices_one_story(proxy: str) -> None:
    with httpx.Client(base_url=proxy, headers=LAPTOP) as laptop, \
            httpx.Client(base_url=proxy, headers=PHONE) as phone:
        for path in ("/products/phone-pro", "/pages/compare?products=phone-pro,phone-lite",
                     "/pages/compare?products=phone-pro,phone-fold"):
            assert laptop.get(path).status_code == 200
        assert laptop.get("/products/no-such-phone").status_code == 404  # undone
        laptop.post("/account/login", data={"user": "alice-1001"})
        laptop_sid = laptop.cookies["ig_sid"]
        for path in ("/collections/phones?sort_by=price-ascending",
                     "/collections/audio?sort_by=price-ascending", "/products/phone-lite"):
            phone.get(path)
        phone.post("/account/login", data={"user": "alice-1001"})
        for _ in range(4):
            r = phone.get("/collections/laptops?sort_by=price-ascending")
        sent = r.headers["x-intent-class"]

    body = _api(proxy, f"sessions/{laptop_sid}").json()
    # "Class now" is the class the proxy sends now: the profile's, not the laptop session's.
    assert body["identified"] is True and body["class"] == sent
    assert body["events"] >= 3 + 3 + 4
    devices = {d["device"]: d for d in body["devices"]}
    assert set(devices) == {"device 1", "device 2"}
    assert devices["device 1"]["looked_up"] is True
    kinds_by_device = {(e["device"], e["kind"]) for e in body["timeline"]}
    assert ("device 1", "compare") in kinds_by_device
    assert ("device 2", "price_sort_or_filter") in kinds_by_device
    undone = [e for e in body["timeline"] if e["undone"]]
    assert len(undone) == 1 and undone[0]["kind"] == "product_view"
    assert len(body["merges"]) == 2 and body["merges"][0]["events"] >= 3
    assert [m["device"] for m in body["merges"]] == ["device 1", "device 2"]

    # The shop's own customer id finds the same shopper.
    by_customer = _api(proxy, "customers/alice-1001").json()
    assert by_customer["class"] == sent and by_customer["profile"] == body["profile"]
    assert len(by_customer["devices"]) == 2
    r = _api(proxy, "customers/nobody-here")
    assert r.status_code == 404 and "X-Intent-Identify" in r.json()["error"]


def test_a_decision_whose_history_is_gone_says_so(proxy: str) -> None:
    r = _api(proxy, "sessions/" + "A" * 22)  # a pseudonym from an audit record of long ago
    assert r.status_code == 404
    assert "timeline of this shopper is gone" in r.json()["error"]
