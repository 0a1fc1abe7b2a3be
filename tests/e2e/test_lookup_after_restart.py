"""Looking a shopper up from an audit record after the proxy restarted (Redis store: profiles
and the audit stream outlive the process, the in-memory timelines do not)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.redisproc import (
    ADMIN_TOKEN,
    BROWSER,
    SHARED_URL,
    proxy_process,
)

pytestmark = pytest.mark.redis

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def _decisions(url: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/_intentgate/api/decisions", headers=AUTH).json()
        if body["decisions"]:
            return list(body["decisions"])
        time.sleep(0.1)
    raise AssertionError("no audit record appeared")


def test_an_audit_record_still_finds_a_signed_in_shopper_after_a_restart(
    origin: str, tmp_path: Path, prefix: str,
) -> None:
    settings = {"store": "redis", "redis_url": SHARED_URL, "redis_prefix": prefix,
                "admin_token": ADMIN_TOKEN}
    with proxy_process(origin, tmp_path, **settings) as p:
        with httpx.Client(base_url=p.url, headers=BROWSER) as shopper:
            for i in range(4):
                shopper.get(f"/pages/compare?products=p{i},p{i + 1}")
            shopper.get("/identify?user=carol-77")
            r = shopper.get("/products/p1")
            sent = r.headers["x-intent-class"]
        record = _decisions(p.url)[0]  # a class change of this shopper's session
        time.sleep(0.3)  # the write-behind flush (5 ms) has long run
    with proxy_process(origin, tmp_path, **settings) as p:
        api = f"{p.url}/_intentgate/api/sessions/{record['session']}"
        # With the Redis store the session's journal is shared, so it outlives the restart:
        # the decision still opens the shopper, as the profile the proxy classifies now.
        kept = httpx.get(api, headers=AUTH)
        assert kept.status_code == 200, kept.text
        assert kept.json()["identified"] is True and kept.json()["class"] == sent
        assert kept.json()["timeline"] and kept.json()["scope"] == "global"
        profile = r.headers["x-intent-profile"]
        found = httpx.get(api, params={"profile": profile}, headers=AUTH)
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["identified"] is True and body["class"] == sent
        assert body["timeline"] and not any("gone" in n for n in body["notes"])
        by_customer = httpx.get(f"{p.url}/_intentgate/api/customers/carol-77", headers=AUTH)
        assert by_customer.status_code == 200 and by_customer.json()["class"] == sent
