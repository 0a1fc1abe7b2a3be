"""The admin API against a real proxy: auth, models (list, upload, activate, rollback),
segment cards with live shares, and a session's explanation."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.models import bundled_model_bytes

TOKEN = "admin-" + "k" * 20
AUTH = {"authorization": f"Bearer {TOKEN}"}
BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}


@pytest.fixture
def proxy(origin: str, make_proxy: Callable[..., str]) -> str:
    return make_proxy(origin, admin_token=TOKEN, expose_headers=True)


def _renamed() -> bytes:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["display_name"] += " (candidate)"
    return seal(content)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "api/models"), ("POST", "api/models"), ("POST", "api/models/rollback"),
    ("POST", "api/models/2026-01-01.abcdef/activate"), ("GET", "api/segments"),
    ("GET", "api/sessions/abcdefgh"), ("GET", "metrics"),
])
def test_admin_api_requires_the_bearer_token(proxy: str, method: str, path: str) -> None:
    r = httpx.request(method, f"{proxy}/_intentgate/{path}")
    assert r.status_code == 401 and r.json()["error"]


def test_admin_api_models_upload_activate_rollback(proxy: str) -> None:
    bundled = load_model(bundled_model_bytes()).version
    listed = httpx.get(f"{proxy}/_intentgate/api/models", headers=AUTH).json()
    assert listed["active"] == bundled
    r = httpx.post(f"{proxy}/_intentgate/api/models", headers=AUTH, content=b'{"format": 1}')
    assert r.status_code == 422 and "refused" in r.json()["error"]
    r = httpx.post(f"{proxy}/_intentgate/api/models", headers=AUTH, content=_renamed())
    assert r.status_code == 201
    candidate = r.json()["version"]
    r = httpx.post(f"{proxy}/_intentgate/api/models/{candidate}/activate", headers=AUTH)
    assert r.status_code == 200 and r.json()["active"] == candidate
    assert httpx.get(f"{proxy}/echo", headers=BROWSER).headers["x-intent-model"] == candidate
    r = httpx.post(f"{proxy}/_intentgate/api/models/rollback", headers=AUTH)
    assert r.json()["active"] == bundled
    assert httpx.get(f"{proxy}/echo", headers=BROWSER).headers["x-intent-model"] == bundled
    r = httpx.post(f"{proxy}/_intentgate/api/models/2020-01-01.000000/activate", headers=AUTH)
    assert r.status_code == 404
    r = httpx.post(f"{proxy}/_intentgate/api/models/../../etc/activate", headers=AUTH)
    assert r.status_code in (400, 404)


def test_admin_api_segments_show_cards_with_live_share(proxy: str) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for _ in range(4):
            c.get("/pages/compare?products=a,b,c")
    body = httpx.get(f"{proxy}/_intentgate/api/segments", headers=AUTH).json()
    cards = {c["slug"]: c for c in body["segments"]}
    assert "comparison-shopper" in cards and cards["comparison-shopper"]["live_requests"] >= 1
    assert "centroid_z" in cards["comparison-shopper"] and body["model"]


def test_admin_api_session_explanation(proxy: str) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for _ in range(4):
            c.get("/pages/compare?products=a,b,c")
        sid = c.cookies["ig_sid"]
    body = httpx.get(f"{proxy}/_intentgate/api/sessions/{sid}", headers=AUTH).json()
    assert body["class"] == "comparison-shopper" and body["events"] == 4
    top = body["signals"][0]
    assert top["signal"] == "comparisons" and "comparisons" in top["in_words"]
    assert sum(s["share"] for s in body["signals"]) <= 1.0 + 1e-9  # shares of the evidence
    total = sum(s["contribution"] for s in body["attribution"])
    assert total == pytest.approx(body["margin"], rel=1e-6, abs=1e-6)  # exact attribution
    slugs = {c["slug"] for c in orjson.loads(bundled_model_bytes())["classes"]}
    assert set(body["distances"]) == slugs and "comparison-shopper" in slugs
    r = httpx.get(f"{proxy}/_intentgate/api/sessions/forged.token123", headers=AUTH)
    assert r.status_code == 400
