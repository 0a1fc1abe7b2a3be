"""The server side: uvicorn on httptools + uvloop, with the limits uvicorn itself lacks.

``HardenedHttpToolsProtocol`` adds what neither uvicorn parser enforces: a cap on the request
header section (431), a cap on the request target (414), a deadline for receiving headers (slow
clients are cut, 408), exactly one ``Host`` (400), and the smuggling shapes — both
``Content-Length`` and ``Transfer-Encoding``, two different ``Content-Length`` values, obsolete
line folding, CR/LF inside a value — refused before the app (and so the upstream) sees them;
a transfer coding other than ``chunked`` is refused with 501.
httptools already rejects some of these itself; tests pin both layers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from proxy.types import BODY_FOLLOWS, TRUSTED_HEAD, Message

logger = logging.getLogger(__name__)

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long",
            431: b"Request Header Fields Too Large", 501: b"Not Implemented"}


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_header_bytes: int = 32 * 1024
    max_target_bytes: int = 8 * 1024
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    limit_concurrency: int = 1000
    graceful_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> ServerLimits:
        """The limits named in ``proxy.config.Settings``."""
        return cls(
            max_header_bytes=settings.max_header_bytes,
            header_timeout=settings.header_timeout,
            keepalive_timeout=settings.keepalive_timeout,
            limit_concurrency=settings.limit_concurrency,
            graceful_timeout=settings.graceful_timeout,
        )


class _Reject(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Cycle(RequestResponseCycle):
    """uvicorn's request/response cycle, with a shorter way out for the forwarder's answers.

    A response start marked ``TRUSTED_HEAD`` (``proxy.types``) is serialised without uvicorn's
    two regex checks per header: its names came lower-case from our upstream parser or our own
    tables, and its values were split on CRLF by that parser, so they cannot hold a line break.
    Marked ``BODY_FOLLOWS`` as well, the head is held and goes out with the first body chunk in
    one write (one system call and one TCP segment fewer per response; nginx does the same).
    Any other message, and any message while the client's side is paused or gone, takes
    uvicorn's own path unchanged."""

    _ig_head: bytes | None = None

    async def send(self, message: Message) -> None:  # type: ignore[override]
        if (not self.response_started and message.get(TRUSTED_HEAD)
                and message["type"] == "http.response.start" and not self.disconnected
                and not self.flow.write_paused and not self.default_headers
                and not self.access_log):
            self._ig_start(message)
            return
        head = self._ig_head
        if head is not None:
            self._ig_head = None
            if (message["type"] == "http.response.body" and not self.disconnected
                    and not self.flow.write_paused):
                self._ig_first_body(head, message)
                return
            if not self.disconnected:
                self.transport.write(head)
        await super().send(message)  # type: ignore[arg-type]

    def _ig_start(self, message: Message) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        status = message["status"]
        content = [STATUS_LINE[status]]
        has_close = False
        for name, value in message["headers"]:
            if name == b"content-length":
                if self.chunked_encoding is None:
                    self.expected_content_length = int(value)
                    self.chunked_encoding = False
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    self.expected_content_length = 0
                    self.chunked_encoding = True
            elif name == b"connection":
                if b"close" in [t.strip() for t in value.lower().split(b",")]:
                    self.keep_alive = False
                    has_close = True
            content += (name, b": ", value, b"\r\n")
        if not self.keep_alive and not has_close:
            content.append(b"connection: close\r\n")
        bodiless = self.scope["method"] == "HEAD" or status in (204, 304)
        if self.chunked_encoding is None and not bodiless:
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        if message.get(BODY_FOLLOWS) and not bodiless:
            self._ig_head = b"".join(content)
        else:
            self.transport.write(b"".join(content))

    def _ig_first_body(self, head: bytes, message: Message) -> None:
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.chunked_encoding:
            parts = [head]
            if body:
                parts += (b"%x\r\n" % len(body), body, b"\r\n")
            if not more:
                parts.append(b"0\r\n\r\n")
            self.transport.write(b"".join(parts))
        else:
            size = len(body)
            if size > self.expected_content_length:
                self.transport.write(head)
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= size
            self.transport.write(head + body)
        if not more:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()


class HardenedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the limits in the module docstring."""

    limits = ServerLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._ig_reject: _Reject | None = None
        self._ig_in_headers = False
        self._ig_header_bytes = 0
        self._ig_hosts = 0
        self._ig_lengths: set[bytes] | None = None
        self._ig_te = False
        self._ig_awaiting_head = True
        self._ig_head_bytes = 0
        self._ig_max_header = self.limits.max_header_bytes
        self._ig_max_target = self.limits.max_target_bytes
        self._ig_begin = self.loop.time()
        # Request line + header section + slack for CRLFs the per-header count leaves out.
        self._ig_head_budget = self.limits.max_header_bytes + self.limits.max_target_bytes + 1024
        # An idle new connection gets the header deadline too (slowloris).
        self._ig_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.limits.header_timeout, self._ig_header_timeout
        )
        # The keep-alive deadline: idle since when, and one lazily checked timer per
        # connection (uvicorn sets a timer after every response and cancels it when the next
        # request's first bytes arrive, ~1.5 µs per request).
        self._ig_idle = False
        self._ig_idle_since = 0.0
        self._ig_ka_timer: asyncio.TimerHandle | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._ig_cancel_timer()
        super().connection_lost(exc)

    def _ig_cancel_timer(self) -> None:
        timer = getattr(self, "_ig_timer", None)
        if timer is not None:
            timer.cancel()
            self._ig_timer = None
        timer = getattr(self, "_ig_ka_timer", None)
        if timer is not None:
            timer.cancel()
            self._ig_ka_timer = None

    def on_response_complete(self) -> None:
        # uvicorn's, with the keep-alive deadline kept by the lazy timer below.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._ig_idle = True
        self._ig_idle_since = now = self.loop.time()
        if self._ig_ka_timer is None:
            self._ig_ka_timer = self.loop.call_at(now + self.timeout_keep_alive,
                                                  self._ig_keepalive_check)

    def _ig_keepalive_check(self) -> None:
        self._ig_ka_timer = None
        if not self._ig_idle or self.transport.is_closing():
            return  # a request is in progress: its response arms the timer again
        left = self._ig_idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self._ig_ka_timer = self.loop.call_later(left, self._ig_keepalive_check)
            return
        self.timeout_keep_alive_handler()

    def _ig_header_timeout(self) -> None:
        # One timer per connection, checked lazily (a timer set and cancelled per request
        # costs more than the request's whole header walk): it fires at most once per
        # ``header_timeout`` and looks at where the connection is.
        self._ig_timer = None
        if self._ig_in_headers:
            left = self._ig_begin + self.limits.header_timeout - self.loop.time()
            if left > 0:
                self._ig_timer = self.loop.call_later(left, self._ig_header_timeout)
                return
        elif self.cycle is not None:
            return  # between requests (uvicorn's keep-alive timer) or serving one
        self._ig_send_error(408, "request headers not received in time")

    def _ig_send_error(self, status: int, reason: str) -> None:
        if self.transport.is_closing():
            return
        body = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status], len(body), body)
        )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._ig_idle = False  # the keep-alive deadline no longer runs (see on_response_complete)
        self._unset_keepalive_if_required()
        awaiting = self._ig_awaiting_head
        try:
            self.parser.feed_data(data)
            if awaiting and self._ig_awaiting_head:
                # httptools hands a header to on_header only once it is complete, so one
                # endless header line would be buffered without bound: count raw bytes too
                # (only reads that were head from start to end, so no body byte counts).
                self._ig_head_bytes += len(data)
                if self._ig_head_bytes > self._ig_head_budget:
                    self._ig_fail(431, "request header section too large")
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            self._ig_early = data[offset:]
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except _Reject as exc:
            logger.info("rejected request: %s", exc.reason)
            self._ig_send_error(exc.status, exc.reason)
        except httptools.HttpParserError as exc:
            reject = self._ig_reject
            if reject is None and isinstance(exc.__cause__ or exc.__context__, _Reject):
                reject = exc.__cause__ or exc.__context__  # type: ignore[assignment]
            if reject is not None:
                logger.info("rejected request: %s", reject.reason)
                self._ig_send_error(reject.status, reject.reason)
            else:
                logger.info("rejected malformed request: %s", exc)
                self._ig_send_error(400, "invalid HTTP request")

    def handle_websocket_upgrade(self) -> None:
        # The standalone proxy tunnels an upgrade as bytes (proxy.forward.ForwardApp.tunnel);
        # any other app gets uvicorn's WebSocket protocol and ASGI websocket scopes.
        tunnel = getattr(self.app, "ws_tunnel", None)
        if tunnel is None:
            super().handle_websocket_upgrade()
            return
        self._ig_cancel_timer()
        self._unset_keepalive_if_required()
        self.connections.discard(self)
        tunnel(self.transport, self.scope["method"].encode(), self.url, self.headers,
               self.client, self.scheme, getattr(self, "_ig_early", b""), self.server)

    def _ig_fail(self, status: int, reason: str) -> None:
        self._ig_reject = _Reject(status, reason)
        raise self._ig_reject

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._ig_in_headers = True
        self._ig_header_bytes = 0
        self._ig_hosts = 0
        self._ig_lengths = None
        self._ig_te = False
        self._ig_begin = self.loop.time()
        if self._ig_timer is None:
            self._ig_timer = self.loop.call_later(
                self.limits.header_timeout, self._ig_header_timeout
            )

    def on_url(self, url: bytes) -> None:
        self.url += url  # uvicorn's on_url, inlined
        if len(self.url) > self._ig_max_target:
            self._ig_fail(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._ig_header_bytes + len(name) + len(value) + 4
        self._ig_header_bytes = size
        if size > self._ig_max_header:
            self._ig_fail(431, "request header section too large")
        if b"\r" in value or b"\n" in value or b"\x00" in value:
            self._ig_fail(400, "control character in a header value")
        low = name.lower()
        if low == b"host":
            self._ig_hosts += 1
        elif low == b"content-length":
            if self._ig_lengths is None:
                self._ig_lengths = set()
            self._ig_lengths.add(value.strip())
        elif low == b"transfer-encoding":
            self._ig_te = True
            if value.strip().lower() != b"chunked":
                # "gzip, chunked" would reach the origin decoded but unlabelled (RFC 9112 6.1).
                self._ig_fail(501, "unsupported transfer coding")
        elif low == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((low, value))  # uvicorn's on_header, inlined
    def on_headers_complete(self) -> None:
        self._ig_in_headers = False
        self._ig_awaiting_head = False
        self._ig_head_bytes = 0
        if self._ig_hosts != 1 and self.parser.get_http_version() == "1.1":
            self._ig_fail(400, "exactly one Host header is required")
        if self._ig_te and self._ig_lengths:
            self._ig_fail(400, "both Content-Length and Transfer-Encoding")
        if self._ig_lengths is not None and len(self._ig_lengths) > 1:
            self._ig_fail(400, "conflicting Content-Length headers")
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.__class__ is RequestResponseCycle:
            # The task that runs it has not started yet: it looks ``send`` up on _Cycle.
            cycle.__class__ = _Cycle

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Next request on this keep-alive connection: uvicorn's keep-alive timer covers the idle
        # wait; our header deadline starts when the next request's first byte arrives.
        self._ig_awaiting_head = True
        self._ig_head_bytes = 0


def uvicorn_kwargs(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``/``uvicorn.run`` that set our server stack."""
    # A module-level class (so uvicorn can hand it to worker processes); the limits are a class
    # attribute set once per process (the worker's app factory sets them again from settings).
    HardenedHttpToolsProtocol.limits = limits
    return {
        "http": HardenedHttpToolsProtocol,
        "loop": "uvloop",
        "lifespan": "on",
        # uvicorn's default trusts X-Forwarded-* from 127.0.0.1, letting a local client spoof
        # its address and scheme; ForwardApp decides trust from the configured hops instead.
        "proxy_headers": False,
        "server_header": False,
        # The origin's Date goes through; uvicorn's own would duplicate it.
        "date_header": False,
        "timeout_keep_alive": limits.keepalive_timeout,
        "limit_concurrency": limits.limit_concurrency,
        "timeout_graceful_shutdown": limits.graceful_timeout,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }
