"""The proxy's own surface under ``/_intentgate/``: health, metrics, the beacon and its script.

Raw ASGI with one error path: every failure is a 4xx with a JSON reason, never a 500 or a
traceback. ``health``, ``beacon`` and ``beacon.js`` need no token; everything else needs the
admin bearer token, compared in constant time. The admin API of later issues mounts here.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from proxy.types import Receive, Scope, Send
from signals.beacon import BEACON_JS, MAX_BEACON_BYTES, parse_beacon

if TYPE_CHECKING:
    from proxy.engine import Engine

logger = logging.getLogger(__name__)

PREFIX = "/_intentgate/"
_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


class HTTPError(Exception):
    """Raised inside a handler; becomes a JSON error response."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Handler = Callable[[Scope, Receive], Awaitable[tuple[int, Any, list[tuple[bytes, bytes]]]]]


async def send_json(send: Send, status: int, body: Any, extra: Any = ()) -> None:
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = list(_JSON) + [(b"content-length", str(len(payload)).encode())] + list(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read a request body of at most ``limit`` bytes; more -> 413."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPError(400, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k == name:
            return bytes(v)
    return None


class AdminApp:
    """Routes ``/_intentgate/*`` requests; see the module docstring."""

    def __init__(
        self, engine: Engine, *, admin_token: str | None = None, store_name: str = "memory",
        version: str = "",
    ) -> None:
        self.engine = engine
        self.admin_token = admin_token.encode() if admin_token else None
        self.store_name = store_name
        self.version = version
        # (method, path) -> (handler, needs_token)
        self.routes: dict[tuple[str, str], tuple[Handler, bool]] = {
            ("GET", "health"): (self.health, False),
            ("HEAD", "health"): (self.health, False),
            ("GET", "beacon.js"): (self.beacon_js, False),
            ("POST", "beacon"): (self.beacon, False),
            ("GET", "metrics"): (self.metrics, True),
        }
        # Prefix routes (path parameters), consulted after exact matches: (method, prefix).
        self.prefix_routes: list[tuple[str, str, Handler, bool]] = []

    def add(self, method: str, path: str, handler: Handler, *, token: bool = True) -> None:
        if path.endswith("/*"):
            self.prefix_routes.append((method, path[:-1], handler, token))
        else:
            self.routes[(method, path)] = (handler, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sub = scope["path"][len(PREFIX):]
        method = scope["method"]
        found = self.routes.get((method, sub))
        if found is None:
            for m, prefix, handler, token in self.prefix_routes:
                if m == method and sub.startswith(prefix):
                    found = (handler, token)
                    break
        try:
            if found is None:
                known = {p for (_, p) in self.routes} | {p for (_, p, _, _) in self.prefix_routes}
                if sub in known or any(sub.startswith(p) for (_, p, _, _) in self.prefix_routes):
                    raise HTTPError(405, f"method {method} not allowed here")
                raise HTTPError(404, f"no such endpoint: {scope['path']}")
            handler, needs_token = found
            if needs_token:
                self._check_token(scope)
            status, body, extra = await handler(scope, receive)
        except HTTPError as exc:
            await send_json(send, exc.status, {"error": exc.reason, "status": exc.status})
            return
        except Exception as exc:  # never a 500 with a traceback from the admin surface
            logger.exception("admin endpoint %s failed", scope["path"])
            await send_json(send, 400, {"error": f"request failed: {type(exc).__name__}"})
            return
        if isinstance(body, tuple):  # (content_type, bytes) for non-JSON bodies
            ctype, payload = body
            headers = [(b"content-type", ctype), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": status,
                        "headers": headers + list(extra)})
            await send({"type": "http.response.body",
                        "body": b"" if method == "HEAD" else payload})
        elif status == 204:
            await send({"type": "http.response.start", "status": 204, "headers": list(extra)})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send_json(send, status, body, extra)

    def _check_token(self, scope: Scope) -> None:
        if self.admin_token is None:
            raise HTTPError(401, "admin API disabled: set INTENTGATE_ADMIN_TOKEN")
        auth = header(scope, b"authorization") or b""
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.admin_token):
            raise HTTPError(401, "missing or wrong bearer token")

    # -- handlers ---------------------------------------------------------------------------

    async def health(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        active = self.engine.active
        return 200, {
            "status": "ok",
            "version": self.version,
            "model": active.version if active is not None else None,
            "store": self.store_name,
        }, ()

    async def metrics(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        return 200, (b"text/plain; version=0.0.4", self.engine.metrics.render()), ()

    async def beacon_js(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        return 200, (b"application/javascript; charset=utf-8", BEACON_JS.encode()), [
            (b"cache-control", b"public, max-age=3600")
        ]

    async def beacon(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        metrics = self.engine.metrics
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BEACON_BYTES:
            metrics.beacons["too_large"] += 1
            raise HTTPError(413, f"beacon larger than {MAX_BEACON_BYTES} bytes")
        try:
            body = await read_body(receive, MAX_BEACON_BYTES)
        except HTTPError:
            metrics.beacons["too_large"] += 1
            raise
        try:
            event = parse_beacon(body, self.engine.clock())
        except ValueError as exc:
            metrics.beacons["invalid"] += 1
            raise HTTPError(400, str(exc)) from None
        cookies = [v for k, v in scope["headers"] if k == b"cookie"]
        outcome = self.engine.apply_beacon(cookies, event)
        metrics.beacons[outcome] += 1
        if outcome == "no_session":
            raise HTTPError(400, "no valid session cookie: a beacon applies to its own session")
        if outcome == "rate_limited":
            raise HTTPError(429, "too many beacons for this session")
        return 204, None, ()
