"""``IntentGateMiddleware``: the engine as a plain ASGI middleware class (no framework base class).

Per request it walks ``scope["headers"]`` once — dropping every client ``X-Intent-*`` header so a
client can never choose its own class, and noting cookies and browser headers — classifies,
appends our headers to the scope the wrapped app sees, and on the way out removes the origin's
identify header (acting on it), sets our cookies and, when configured, exposes our headers.
The same class wraps ``ForwardApp`` in the standalone proxy and a user's app when embedded.
"""

from __future__ import annotations

import logging
from typing import Any

from proxy.admin.surface import AdminApp
from proxy.engine import Decision, Engine
from proxy.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/_intentgate/"


class IntentGateMiddleware:
    """Wrap any ASGI app; ``/_intentgate/`` is answered by the admin surface.

    Either pass a ready ``engine`` (the standalone proxy does), or ``config`` — a ``Settings``,
    a dict of settings, or ``None`` for the embedded defaults — and the engine is built here and
    started in the lifespan (or on the first request when the host app runs no lifespan).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine: Engine | None = None,
        config: Any = None,
        admin: ASGIApp | None = None,
    ) -> None:
        self.app = app
        self._owns_engine = engine is None
        if engine is None:
            from proxy.app import build_runtime  # late: build_runtime imports this module

            runtime = build_runtime(config)
            engine = runtime.engine
            self._runtime: Any = runtime
        else:
            self._runtime = None
        self.engine = engine
        self.admin = admin if admin is not None else AdminApp(engine)
        opts = engine.options
        self._prefix = opts.header_prefix
        self._identify = opts.identify_header
        self._order_value = opts.header_prefix + b"order-value"  # removed like identify
        self._expose = opts.expose_headers
        self._trusted = opts.trusted_hops
        self._started = not self._owns_engine
        # A wrapped app that classifies in its own walk over the headers (the standalone
        # proxy's ForwardApp, attached to this engine) gets http requests untouched.
        self._classified_inside = getattr(app, "engine", None) is engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"].startswith(ADMIN_PREFIX):
                await self.admin(scope, receive, send)
                return
            if not self._started:
                await self._start()
            if self._classified_inside:
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send)
        elif kind == "lifespan" and self._owns_engine:
            await self._lifespan(scope, receive, send)
        elif kind == "websocket":
            scope = dict(scope)
            scope["headers"] = [h for h in scope["headers"] if not h[0].startswith(self._prefix)]
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _start(self) -> None:
        self._started = True
        await self._runtime.startup()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and not self._started:
                await self._start()
            elif message["type"] == "lifespan.shutdown":
                await self._runtime.aclose()
            return message

        await self.app(scope, wrapped_receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = self._prefix
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[bytes] = []
        user_agent: bytes | None = None
        forwarded_proto: bytes | None = None
        has_accept = has_language = False
        for name, value in scope["headers"]:
            if name.startswith(prefix) or name == self._identify:
                continue
            if name == b"cookie":
                cookies.append(value)
            elif name == b"user-agent":
                user_agent = value
            elif name == b"accept":
                has_accept = True
            elif name == b"accept-language":
                has_language = True
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
            headers.append((name, value))
        # Secure cookies when the shopper came over HTTPS: directly, or per a trusted hop.
        secure = scope.get("scheme") == "https"
        if not secure and forwarded_proto is not None and self._trusted:
            client = scope.get("client")
            secure = (client is not None and client[0] in self._trusted
                      and forwarded_proto.strip().lower() == b"https")

        engine = self.engine
        # One entry point: awaits the one store round trip inside when the shopper's state
        # lives in the shared store and is not here yet.
        decision = await engine.decide(
            scope["method"], scope["path"], scope.get("query_string", b""), cookies,
            user_agent, has_accept, has_language, secure,
        )
        if decision is not None:
            headers.extend(decision.headers)
        scope = dict(scope)
        scope["headers"] = headers
        hook = _ResponseHook(send, engine, decision, self)
        if decision is None and self._expose:
            hook.skipped = engine.skipped  # read before any await: the reason is this request's
        await self.app(scope, receive, hook)


class _ResponseHook:
    """The ``send`` the wrapped app sees: fixes up ``http.response.start`` once."""

    __slots__ = ("send", "engine", "decision", "mw", "skipped", "sniff")

    def __init__(
        self, send: Send, engine: Engine, decision: Decision | None, mw: IntentGateMiddleware
    ) -> None:
        self.send = send
        self.engine = engine
        self.decision = decision
        self.mw = mw
        self.skipped = b""
        self.sniff = decision.sniff if decision is not None else None

    async def __call__(self, message: Message) -> None:
        if self.sniff is not None and message["type"] == "http.response.body":
            # The unmatched-routes sample asked for this page's HTML: its first chunk, once.
            unmatched = self.engine.unmatched
            if unmatched is not None:  # set whenever a decision asks to sniff
                unmatched.body("GET", self.sniff, bytes(message.get("body", b"")))
            self.sniff = None
        if message["type"] == "http.response.start":
            identify_name = self.mw._identify
            order_name = self.mw._order_value
            identify: bytes | None = None
            order_value: bytes | None = None
            out: list[tuple[bytes, bytes]] = []
            for name, value in message.get("headers", ()):
                lname = name.lower()
                if lname == identify_name:
                    identify = value
                    continue
                if lname == order_name:
                    order_value = value
                    continue
                out.append((name, value))
            decision = self.decision
            try:
                self.engine.on_response(decision, message["status"], identify, order_value)
            except Exception as exc:  # response side fails open too
                self.engine.fail_open("response", repr(exc))
            if decision is not None:
                out.extend(decision.set_cookies)  # after on_response: identify adds one
                if self.mw._expose:
                    out.extend(decision.headers)
                    if decision.skipped:
                        out.append((self.engine.h_skipped, decision.skipped))
            elif self.skipped:
                out.append((self.engine.h_skipped, self.skipped))  # X-Intent-Skipped: why
            if self.sniff is not None and (message["status"] != 200 or not any(
                    n.lower() == b"content-type" and b"html" in v.lower() for n, v in out)):
                self.sniff = None
            message = dict(message)
            message["headers"] = out
        await self.send(message)
