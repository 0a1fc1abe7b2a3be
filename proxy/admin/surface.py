"""The proxy's own surface under ``/_intentgate/``: health, metrics, the beacon and its script.

Raw ASGI with one error path: every failure is a 4xx with a JSON reason, never a 500 or a
traceback. ``health``, ``beacon`` and ``beacon.js`` are public; everything else is the admin
surface: on its own listener when one is set (404 on the shoppers' port), behind
``proxy.admin.auth`` (allow-list, throttle, role token: ``read`` for GET, ``write`` otherwise),
with every ``write`` request audited (``proxy.admin.audit``) and ``no-store``/``nosniff``/
``frame-ancestors 'none'`` on every response. The admin API of later issues mounts here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from proxy.types import Receive, Scope, Send
from signals.beacon import BEACON_JS, MAX_BEACON_BYTES, parse_beacon

if TYPE_CHECKING:
    from proxy.admin.audit import AdminAudit
    from proxy.admin.auth import AdminGuard
    from proxy.admin.listener import AdminListen
    from proxy.engine import Engine

logger = logging.getLogger(__name__)

PREFIX = "/_intentgate/"
_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
PUBLIC = frozenset({"health", "beacon", "beacon.js"})  # served on the shoppers' port
# On every admin response unless the handler sets its own (the page sets its own CSP).
SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)


class HTTPError(Exception):
    """Raised inside a handler; becomes a JSON error response."""

    def __init__(self, status: int, reason: str,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


Action = str | Callable[[str], str]  # an admin action's audit name, or path -> name
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


_PRINCIPAL = "intentgate.admin"  # proxy.admin.auth.SCOPE_KEY


class AdminApp:
    """Routes ``/_intentgate/*`` requests; see the module docstring."""

    def __init__(
        self, engine: Engine, *, admin_token: str | None = None, store_name: str = "memory",
        version: str = "", guard: AdminGuard | None = None, audit: AdminAudit | None = None,
        listen: AdminListen | None = None,
    ) -> None:
        from proxy.admin.auth import AdminGuard, TokenSet

        self.engine = engine
        self.guard = guard if guard is not None else AdminGuard(TokenSet.of(admin_token))
        self.audit = audit
        self.listen = listen  # None: one listener for shoppers and admin
        self.store_name = store_name
        self.version = version
        # (method, path) -> (handler, role, action); role None: public, "page": admin, no token
        self.routes: dict[tuple[str, str], tuple[Handler, str | None, Action]] = {}
        # Prefix routes (path parameters), consulted after exact matches.
        self.prefix_routes: list[tuple[str, str, Handler, str | None, Action]] = []
        # Extra fields for health (proxy.modelsync: the model this worker was told to serve).
        self.health_info: Callable[[], dict[str, Any]] | None = None
        self.add("GET", "health", self.health, token=False)
        self.add("HEAD", "health", self.health, token=False)
        self.add("GET", "beacon.js", self.beacon_js, token=False)
        self.add("POST", "beacon", self.beacon, token=False)
        self.add("GET", "metrics", self.metrics)

    def add(self, method: str, path: str, handler: Handler, *, token: bool = True,
            role: str | None = None,
            action: Action | None = None) -> None:
        """Register a route. ``role`` defaults to ``read`` for GET/HEAD, ``write`` otherwise;
        ``token=False`` serves it without a token (public paths, or the page's files).
        ``action`` names it in the audit of write routes (or maps the path after the prefix
        to a name); default ``"METHOD path"``."""
        if not token:
            role = None if path in PUBLIC else "page"
        elif role is None:
            role = "read" if method in ("GET", "HEAD") else "write"
        action = action or f"{method} {path}"
        if path.endswith("/*"):
            self.prefix_routes.append((method, path[:-1], handler, role, action))
        else:
            self.routes[(method, path)] = (handler, role, action)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sub = scope["path"][len(PREFIX):]
        method = scope["method"]
        found = self.routes.get((method, sub))
        if found is None:
            for m, prefix, handler, role, action in self.prefix_routes:
                if m == method and sub.startswith(prefix):
                    found = (handler, role, action)
                    break
        listen = self.listen
        if listen is not None and sub not in PUBLIC and not listen.is_admin(scope):
            # The admin surface lives on its own listener: nothing of it on the shoppers' port.
            await send_json(send, 404, {"error": f"no such endpoint: {scope['path']}",
                                        "status": 404})
            return
        secure = sub not in PUBLIC
        try:
            if found is None:
                known = {p for (_, p) in self.routes} | {p for (_, p, *_) in self.prefix_routes}
                if sub in known or any(sub.startswith(p) for (_, p, *_) in self.prefix_routes):
                    raise HTTPError(405, f"method {method} not allowed here")
                raise HTTPError(404, f"no such endpoint: {scope['path']}")
            handler, role, action = found
            if role in ("read", "write"):
                scope[_PRINCIPAL] = self.guard.check(scope, role)
            elif role == "page":
                self.guard.admit(scope)
            status, body, extra = await handler(scope, receive)
        except HTTPError as exc:
            await self._audit(scope, found, sub, exc.status, exc.reason)
            await self._respond(send, exc.status, {"error": exc.reason, "status": exc.status},
                                exc.headers, secure, method)
            return
        except Exception as exc:  # never a 500 with a traceback from the admin surface
            logger.exception("admin endpoint %s failed", scope["path"])
            await self._audit(scope, found, sub, 400, type(exc).__name__)
            await self._respond(send, 400, {"error": f"request failed: {type(exc).__name__}"},
                                [], secure, method)
            return
        await self._audit(scope, found, sub, status, None)
        await self._respond(send, status, body, list(extra), secure, method)

    async def _audit(self, scope: Scope, found: Any, sub: str, status: int,
                     reason: str | None) -> None:
        """One record per request to a write route by a known token (refused by role too);
        requests no token vouches for are counted in the metrics, not recorded."""
        principal = scope.get(_PRINCIPAL)
        if found is None or found[1] != "write" or principal is None or self.audit is None:
            return
        action = found[2] if isinstance(found[2], str) else found[2](sub)
        await self.audit.record(scope, principal, action, status, reason)

    async def _respond(self, send: Send, status: int, body: Any,
                       extra: list[tuple[bytes, bytes]], secure: bool, method: str) -> None:
        if secure:
            names = {k for k, _ in extra}
            extra = extra + [h for h in SECURITY_HEADERS if h[0] not in names]
        if isinstance(body, tuple):  # (content_type, bytes) for non-JSON bodies
            ctype, payload = body
            headers = [(b"content-type", ctype), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": status,
                        "headers": headers + extra})
            await send({"type": "http.response.body",
                        "body": b"" if method == "HEAD" else payload})
        elif status == 204:
            await send({"type": "http.response.start", "status": 204, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
        elif secure:
            payload = orjson.dumps(body)
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": status,
                        "headers": headers + extra})
            await send({"type": "http.response.body", "body": payload})
        else:
            await send_json(send, status, body, extra)

    # -- handlers ---------------------------------------------------------------------------

    async def health(self, scope: Scope, receive: Receive) -> tuple[int, Any, Any]:
        active = self.engine.active
        return 200, {
            "status": "ok",
            "version": self.version,
            "model": active.version if active is not None else None,
            "store": self.store_name,
            "admin_api": bool(self.guard.tokens),  # the merchandiser page says why it is off
            **(self.health_info() if self.health_info is not None else {}),
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
