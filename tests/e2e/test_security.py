"""Nothing identifying leaves the proxy: no user id, IP or cookie value in headers, logs or
recorded events; the admin surface is closed without its token."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}
USER = "alice.secret@example.com"


def test_no_user_id_ip_or_cookie_value_leaves_the_proxy(
    shop: str, make_proxy: Callable[..., str], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy = make_proxy(shop, expose_headers=True, record_events=True,
                       record_dir=str(tmp_path / "ev"), admin_token="x" * 24)
    seen_headers: list[str] = []
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for path in ("/products/phone-pro", "/search?q=lamp", "/pages/compare?products=a,b"):
            seen_headers += [f"{k}: {v}" for k, v in c.get(path).headers.items()
                             if k.startswith("x-intent")]
        c.post("/account/login", data={"user": USER})
        for _ in range(3):
            r = c.get("/products/smartwatch")
            seen_headers += [f"{k}: {v}" for k, v in r.headers.items()
                             if k.startswith("x-intent")]
        sid, did = c.cookies["ig_sid"], c.cookies["ig_did"]
        pid_tag = c.cookies["ig_pid"].split(".")[1]  # the profile cookie's proof
    deadline = time.monotonic() + 5
    path = tmp_path / "ev" / "events.jsonl"
    while time.monotonic() < deadline and not (path.exists() and path.stat().st_size):
        time.sleep(0.3)
        httpx.get(f"{proxy}/", headers=BROWSER)
    time.sleep(1.1)
    httpx.get(f"{proxy}/products/x", headers=BROWSER)  # flushes the recorder buffer
    recorded = path.read_text()
    # Only what intentgate itself logs (the test client and the demo shop log their own side).
    ours = ("proxy", "signals", "classifiers", "explain", "intentgate")
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(ours))
    assert "event product_view" in logs and recorded  # there is something to scan
    secrets = [USER, "alice", sid, did, sid.split(".")[0], did.split(".")[0], pid_tag,
               "127.0.0.1"]
    for haystack_name, haystack in (("headers", "\n".join(seen_headers)),
                                    ("recorded events", recorded), ("logs", logs)):
        for secret in secrets:
            assert secret not in haystack, f"{secret!r} found in {haystack_name}"


def test_admin_routes_are_closed_without_the_token(shop: str,
                                                   make_proxy: Callable[..., str]) -> None:
    proxy = make_proxy(shop, admin_token="y" * 24)
    for method, path in (("GET", "/_intentgate/metrics"),):
        assert httpx.request(method, proxy + path).status_code == 401
        r = httpx.request(method, proxy + path, headers={"authorization": "Bearer " + "z" * 24})
        assert r.status_code == 401 and "token" in r.json()["error"]
    no_token = make_proxy(shop)
    r = httpx.get(no_token + "/_intentgate/metrics", headers={"authorization": "Bearer abc"})
    assert r.status_code == 401 and "disabled" in r.json()["error"]


def test_a_forged_profile_cookie_is_ignored(shop: str, make_proxy: Callable[..., str]) -> None:
    """Knowing a shopper's profile id (it travels in X-Intent-Profile) is not enough to read or
    write their profile: the cookie needs the keyed tag."""
    proxy = make_proxy(shop, expose_headers=True)
    with httpx.Client(base_url=proxy, headers=BROWSER) as victim:
        for _ in range(4):
            victim.get("/pages/compare?products=phone-pro,phone-lite")
        victim.post("/account/login", data={"user": USER})
        r = victim.get("/products/phone-pro")
        profile = r.headers["x-intent-profile"]
        assert r.headers["x-intent-class"] == "comparison-shopper"
        assert victim.cookies["ig_pid"].startswith(profile + ".")
    for forged in (profile + "." + "A" * 16, profile, victim.cookies["ig_pid"] + "x"):
        with httpx.Client(base_url=proxy, headers=BROWSER,
                          cookies={"ig_pid": forged}) as attacker:
            r = attacker.get("/products/phone-pro")
            assert r.headers["x-intent-profile"] != profile
            assert r.headers["x-intent-class"] == "undetermined"
