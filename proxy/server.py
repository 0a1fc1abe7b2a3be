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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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

    def connection_lost(self, exc: Exception | None) -> None:
        self._ig_cancel_timer()
        super().connection_lost(exc)

    def _ig_cancel_timer(self) -> None:
        timer = getattr(self, "_ig_timer", None)
        if timer is not None:
            timer.cancel()
            self._ig_timer = None

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
