"""Class changes through the real proxy and the demo storefront: an event the origin answers
with a 4xx is undone together with the class change it caused (journal, audit log, hysteresis
memory), and the headers only name signals the shopper showed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "accept": "text/html,application/xhtml+xml", "accept-language": "en-GB,en;q=0.9",
}
TOKEN = "admin-token-for-class-changes"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def proxy(shop: str, make_proxy: Callable[..., str], tmp_path: Path) -> str:
    return make_proxy(shop, expose_headers=True, admin_token=TOKEN, audit_sample_rate=0.0,
                      bot_max_rate=10_000.0)


def _session(proxy: str, sid: str) -> dict:  # type: ignore[type-arg]
    r = httpx.get(f"{proxy}/_intentgate/api/sessions/{sid}", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_404_page_undoes_its_class_change_in_the_journal_and_marks_the_audit_log(
    proxy: str,
) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        assert c.get("/products/studio-headphones").status_code == 200
        assert c.get("/products/wireless-earbuds").status_code == 200
        r = c.get("/products/no-such-thing")  # the third event: enough for a class ...
        assert r.status_code == 404
        given = r.headers["x-intent-class"]
        assert given != "undetermined"  # ... which the origin was told, then undone
        sid = c.cookies["ig_sid"]
    body = _session(proxy, sid)
    assert body["events"] == 2 and body["class"] == "undetermined"
    # The event stays in the timeline, marked undone; the class change it caused is gone.
    assert [(e["product"], e.get("undone", False)) for e in body["timeline"]] == [
        ("studio-headphones", False), ("wireless-earbuds", False), ("no-such-thing", True)]
    assert body["changes"] == []  # the change to `given` was taken out with its event
    records = httpx.get(f"{proxy}/_intentgate/api/decisions", headers=AUTH,
                        params={"limit": 100}).json()["decisions"]
    undone = [rec for rec in records if rec.get("note", "").startswith("undone")]
    assert len(undone) == 1, records
    rec = undone[0]
    assert rec["previous"] == given and rec["class"] == "undetermined"
    assert "404" in rec["note"] and rec["event"] == "product_view"
    assert rec["session"] == body["session"]


def test_headers_name_only_signals_the_shopper_showed(proxy: str) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for handle in ("studio-headphones", "wireless-earbuds", "turntable"):
            assert c.get(f"/products/{handle}").status_code == 200
        r = c.get("/pages/compare", params={"products": "studio-headphones,wireless-earbuds"})
        assert r.status_code == 200
        r = c.get("/pages/compare", params={"products": "studio-headphones,turntable"})
        sid = c.cookies["ig_sid"]
    assert r.headers["x-intent-class"] == "comparison-shopper"
    listed = dict(p.split("=") for p in r.headers["x-intent-signals"].split(", "))
    assert "comparisons" in listed and "wishlist_adds" not in listed
    assert all(0.0 < float(v) <= 1.0 for v in listed.values())
    assert sum(float(v) for v in listed.values()) <= 1.0
    raw = {s["signal"]: s["raw_value"] for s in _session(proxy, sid)["attribution"]}
    assert all(raw[name] > 0 for name in listed)
    # The audit log's records carry the same evidence: never for a signal at 0.
    records = httpx.get(f"{proxy}/_intentgate/api/decisions", headers=AUTH,
                        params={"class": "comparison-shopper"}).json()["decisions"]
    assert records
    for rec in records:
        shown = [s for s in rec["signals"] if s["evidence"] > 0]
        assert shown and all(s["raw_value"] > 0 for s in shown)
