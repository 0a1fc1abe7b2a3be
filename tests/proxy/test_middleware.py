"""Embedded mode: IntentGateMiddleware wrapping a Starlette app and a bare ASGI app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from proxy import IntentGateMiddleware
from tests.servers import serve_in_thread

BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}


def _config(tmp_path: Path) -> dict[str, Any]:
    return {"secret": "m" * 32, "data_dir": str(tmp_path), "min_events": 1, "preset": "demo"}


async def seen(request: Request) -> JSONResponse:
    headers = {k: v for k, v in request.headers.items() if k.startswith("x-intent-")}
    resp = JSONResponse(headers)
    if request.query_params.get("login"):
        resp.headers["X-Intent-Identify"] = request.query_params["login"]
    return resp


def test_middleware_wraps_a_starlette_app(tmp_path: Path) -> None:
    app = IntentGateMiddleware(
        Starlette(routes=[Route("/products/{h}", seen), Route("/pages/compare", seen)]),
        config=_config(tmp_path),
    )
    with serve_in_thread(app, lifespan="on") as url, httpx.Client(base_url=url,
                                                                   headers=BROWSER) as c:
        first = c.get("/products/phone-pro", headers={"X-Intent-Class": "spoofed"})
        assert first.status_code == 200
        assert first.json().get("x-intent-class") not in (None, "spoofed")
        assert "ig_sid" in c.cookies and "ig_did" in c.cookies
        assert "x-intent-class" not in first.headers  # not exposed unless configured
        for _ in range(3):
            r = c.get("/pages/compare", params={"products": "a,b,c"})
        assert r.json()["x-intent-class"] == "comparison-shopper"
        assert r.json()["x-intent-signals"].startswith("comparisons=")
        r = c.get("/products/x", params={"login": "bob"})
        assert "x-intent-identify" not in r.headers
        health = c.get("/_intentgate/health").json()
        assert health["model"] is not None


def test_middleware_wraps_a_bare_asgi_app_without_lifespan(tmp_path: Path) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = orjson.dumps([[k.decode(), v.decode()] for k, v in scope["headers"]
                             if k.startswith(b"x-intent-")])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    wrapped = IntentGateMiddleware(app, config={**_config(tmp_path), "expose_headers": True})
    with serve_in_thread(wrapped, lifespan="off") as url:
        r = httpx.get(f"{url}/products/phone-pro", headers=BROWSER)
        names = [k for k, _ in r.json()]
        assert "x-intent-class" in names and "x-intent-model" in names
        assert r.headers["x-intent-class"] == dict(r.json())["x-intent-class"]


def test_middleware_over_budget_forwards_unclassified_and_keeps_the_session(
    tmp_path: Path,
) -> None:
    app = IntentGateMiddleware(
        Starlette(routes=[Route("/products/{h}", seen)]),
        config=dict(_config(tmp_path), budget_ms=0.000001, expose_headers=True),
    )
    with serve_in_thread(app, lifespan="on") as url, httpx.Client(base_url=url,
                                                                   headers=BROWSER) as c:
        r = c.get("/products/phone-pro")
        assert r.json() == {}  # the app heard no class
        assert r.headers["x-intent-skipped"] == "fail-open: budget"
        assert "x-intent-class" not in r.headers
        sid = c.cookies.get("ig_sid")
        assert sid  # the session the event was counted under reached the shopper
        r = c.get("/products/phone-lite")
        assert r.headers["x-intent-skipped"] == "fail-open: budget"
        assert c.cookies.get("ig_sid") == sid
