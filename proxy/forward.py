"""Forwarding one request to the origin and streaming the answer back (raw ASGI, our own client).

The only module that talks to the origin, through ``proxy.upstream`` (HTTP/1.1 towards the
origin, keep-alive pool). Bodies are streamed both ways and never read whole, with back-pressure
both ways; the raw path and query go out byte for byte; hop-by-hop headers and those named in
``Connection`` are dropped in both directions; nothing keeps cookies, decompresses or follows
redirects. Upstream failures become 502 (refused, reset, closed early, a header section over the
limit) or 504 (connect, read or pool deadline) with a short body saying which; an origin that
dies mid-body makes the client's connection close. A WebSocket upgrade becomes a byte tunnel
(``tunnel``, driven by ``proxy.server``). It must not look at ``X-Intent-*`` headers beyond
dropping a client's on a tunnel: the middleware above it owns those.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from proxy.errors import BodyTooLarge, ProxyError, UpstreamTimeout, UpstreamUnavailable
from proxy.types import BODY_FOLLOWS, TRUSTED_HEAD, Headers, Message, Receive, Scope, Send
from proxy.upstream import (
    HOP_BY_HOP,
    IDEMPOTENT,
    StaleConnection,
    UpstreamConnection,
    UpstreamPool,
)

logger = logging.getLogger(__name__)

__all__ = ["HOP_BY_HOP", "ForwardApp", "Timeouts"]

# The server already answered ``Expect: 100-continue`` to the client; forwarding it would make
# the origin wait for a body the client sends anyway.
_FORWARDING = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                         b"forwarded", b"x-real-ip"})
_SPECIAL = HOP_BY_HOP | _FORWARDING | {b"host", b"cookie", b"content-length", b"expect"}
# Read for classification when the engine is attached (and forwarded as they are).
_BROWSER = frozenset({b"user-agent", b"accept", b"accept-language"})
_PROTO = {"http": b"http", "https": b"https", "ws": b"http", "wss": b"https"}
_CHUNKED = b"transfer-encoding: chunked\r\n"
_END = {"type": "http.response.body", "body": b""}
_NO_COOKIES: list[bytes] = []


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Upstream deadlines in seconds: open a connection, wait between reads (the response head
    and each body chunk), wait for a free pooled connection."""

    connect: float = 5.0
    read: float = 30.0
    pool: float = 5.0


def _error(status: int, text: str) -> tuple[Message, Message]:
    body = text.encode() + b"\n"
    headers: Headers = [(b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store")]
    if status == 413:
        # The rest of the body is still on its way: close rather than read it.
        headers.append((b"connection", b"close"))
    start = {"type": "http.response.start", "status": status, "headers": headers,
             TRUSTED_HEAD: True, BODY_FOLLOWS: True}
    return start, {"type": "http.response.body", "body": body}


async def _watch_disconnect(receive: Receive, conn: UpstreamConnection) -> None:
    """Stop pulling an open-ended body from the origin once the client has gone (uvicorn's
    ``send`` silently drops messages after a disconnect, so the relay loop cannot tell)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            conn.abort()
            return


class _ClientGone(Exception):
    """The client disconnected while sending its body."""


class ForwardApp:
    """Forward ``http`` scopes (and WebSocket upgrades, see ``tunnel``) to one upstream.

    ``trusted_hops`` are client IPs whose ``X-Forwarded-*``/``Forwarded`` headers are kept
    (and extended); from anyone else those headers are dropped and rebuilt from the connection.
    """

    def __init__(
        self,
        upstream: str,
        *,
        timeouts: Timeouts = Timeouts(),
        max_body_bytes: int = 10 * 1024 * 1024,
        preserve_host: bool = True,
        trusted_hops: frozenset[str] = frozenset(),
        pool_size: int = 256,
        metrics: Any = None,
        max_header_bytes: int = 64 * 1024,
        strip_prefix: bytes = b"x-intent-",
        engine: Any = None,
    ) -> None:
        url = urlsplit(upstream)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"upstream must be an http(s) URL with a host: {upstream!r}")
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        self.upstream = f"{url.scheme}://{url.netloc}"
        self.upstream_host = url.netloc.encode()
        self._base_path = url.path.rstrip("/").encode()
        self.timeouts = timeouts
        self.max_body_bytes = max_body_bytes
        self.preserve_host = preserve_host
        self.trusted_hops = trusted_hops
        self.pool_size = pool_size
        self.metrics = metrics
        self.strip_prefix = strip_prefix
        self.engine: Any = None  # attach(): classification in the same walk over the headers
        self._special = _SPECIAL
        self._prefix = b""
        self._identify = b""
        self._expose = False
        self.pool = UpstreamPool(
            url.hostname, port, ssl=ssl.create_default_context() if tls else None,
            server_hostname=url.hostname, limit=pool_size, connect_timeout=timeouts.connect,
            read_timeout=timeouts.read, pool_timeout=timeouts.pool,
            max_header_bytes=max_header_bytes,
        )
        if engine is not None:
            self.attach(engine)

    def attach(self, engine: Any) -> None:
        """Classify here, in the one walk over the request headers that builds the head for
        the origin (and the one over the response headers), instead of in a middleware that
        walks and copies them first: the standalone proxy's request path. Client
        ``X-Intent-*`` headers are dropped, and the origin's identify and order-value headers
        taken out of its answers, as the middleware does."""
        opts = engine.options
        self.engine = engine
        self._special = _SPECIAL | _BROWSER
        self._prefix = opts.header_prefix
        self._identify = opts.identify_header
        self._expose = opts.expose_headers
        self.pool.identify_header = opts.identify_header
        self.pool.order_value_header = opts.header_prefix + b"order-value"

    async def startup(self) -> None:
        """Bind the connection pool to the running loop (idempotent)."""
        if self.pool.loop is None:
            self.pool.loop = asyncio.get_running_loop()

    async def aclose(self) -> None:
        """Close the pooled idle connections."""
        await self.pool.aclose()

    # -- request head ----------------------------------------------------------------------

    def _head(self, scope: Scope, seen: list[Any] | None = None
              ) -> tuple[list[bytes], int | None, bool]:
        """One walk over the client's headers: the request head towards the origin (as parts
        for one ``b"".join``; the caller adds the framing header and the final CRLF), the
        declared length, and whether the body is chunked. With ``seen`` (the engine attached),
        also what classification reads: [cookies, user agent, has Accept, has
        Accept-Language, X-Forwarded-Proto from a trusted hop]; our prefix is dropped."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        qs = scope.get("query_string", b"")
        parts = [scope["method"].encode(), b" ", self._base_path + raw_path,
                 b"?" + qs + b" HTTP/1.1\r\n" if qs else b" HTTP/1.1\r\n"]
        connection_named: list[bytes] | None = None
        cookies: list[bytes] | None = None
        content_length: int | None = None
        chunked = False
        host: bytes | None = None
        client = scope.get("client")
        client_ip = client[0] if client else ""
        trusted = client_ip in self.trusted_hops
        xff = xfp = xfh = None
        special = self._special
        prefix = self._prefix
        for name, value in scope["headers"]:
            if name in special:
                if name in HOP_BY_HOP:
                    if name == b"connection":
                        tokens = [t.strip().lower() for t in value.split(b",")]
                        if connection_named is None:
                            connection_named = tokens
                        else:
                            connection_named.extend(tokens)
                    elif name == b"transfer-encoding":
                        chunked = True
                    continue
                if name == b"host":
                    host = value
                    continue
                if name == b"cookie":
                    # RFC 6265 5.4: one Cookie header towards the origin, joined with "; ".
                    if cookies is None:
                        cookies = [value]
                    else:
                        cookies.append(value)
                    continue
                if name == b"content-length":
                    content_length = int(value) if value.isdigit() else None
                    continue  # written by the caller, with the body's framing
                if name == b"expect":
                    continue
                if name in _BROWSER:
                    if seen is not None:
                        if name == b"user-agent":
                            seen[1] = value
                        elif name == b"accept":
                            seen[2] = True
                        else:
                            seen[3] = True
                else:  # X-Forwarded-*, Forwarded, X-Real-IP
                    if not trusted:
                        continue  # a client can never spoof its address or scheme
                    if name == b"x-forwarded-for":
                        xff = value if xff is None else xff + b", " + value
                        continue
                    if name == b"x-forwarded-proto":
                        xfp = value
                        continue
                    if name == b"x-forwarded-host":
                        xfh = value
                        continue
            elif prefix and (name.startswith(prefix) or name == self._identify):
                continue  # a client can never choose its own class
            parts += (name, b": ", value, b"\r\n")
        if connection_named:
            drop = frozenset(connection_named) - HOP_BY_HOP
            if drop:
                keep = parts[:4]
                for i in range(4, len(parts), 4):
                    if parts[i] not in drop:
                        keep += parts[i:i + 4]
                parts = keep
        if cookies is not None:
            parts += (b"cookie: ", b"; ".join(cookies), b"\r\n")
            if seen is not None:
                seen[0] = cookies
        if seen is not None:
            seen[4] = xfp
        ip = client_ip.encode()
        parts += (b"x-forwarded-for: ", ip if xff is None else xff + b", " + ip,
                  b"\r\nx-forwarded-proto: ",
                  xfp if xfp is not None else _PROTO.get(scope.get("scheme", "http"), b"http"),
                  b"\r\n")
        if xfh is not None or host is not None:
            parts += (b"x-forwarded-host: ", xfh or host or b"", b"\r\n")
        parts += (b"host: ", host if (self.preserve_host and host) else self.upstream_host,
                  b"\r\n")
        return parts, content_length, chunked

    # -- http ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        if engine is None:
            parts, content_length, chunked = self._head(scope)
            decision = None
        else:
            seen: list[Any] = [_NO_COOKIES, None, False, False, None]
            parts, content_length, chunked = self._head(scope, seen)
            xfp = seen[4]
            # Secure cookies when the shopper came over HTTPS: directly, or per a trusted hop.
            secure = scope.get("scheme") == "https" or (
                xfp is not None and xfp.strip().lower() == b"https")
            decision = await engine.decide(
                scope["method"], scope["path"], scope.get("query_string", b""), seen[0],
                seen[1], seen[2], seen[3], secure)
            if decision is not None:
                for name, value in decision.headers:
                    parts += (name, b": ", value, b"\r\n")
            elif self._expose and engine.skipped:
                # Read before any await: the reason is this request's (X-Intent-Skipped).
                decision = _Skip((engine.h_skipped, engine.skipped))
        if content_length is not None:
            if content_length > self.max_body_bytes:
                await self._send_error(send, BodyTooLarge(), decision)
                return
            if content_length:
                parts += (b"content-length: ", str(content_length).encode(), b"\r\n")
            else:
                parts.append(b"content-length: 0\r\n")
        if chunked:
            parts.append(_CHUNKED)
        parts.append(b"\r\n")
        head = b"".join(parts)
        has_body = chunked or bool(content_length)
        method = scope["method"]
        pool = self.pool
        if pool.loop is None:
            await self.startup()
        body_done = not has_body
        for attempt in (0, 1):
            idle = pool.take_idle()  # the usual case, with no coroutine to await
            if idle is not None:
                conn = idle
            else:
                try:
                    conn = await pool.acquire()
                except ProxyError as exc:
                    await self._fail(send, exc, decision)
                    return
            try:
                conn.start(head, method == "HEAD")
                if has_body:
                    await self._send_body(conn, receive, chunked)
                    body_done = True
                await conn.read_head()
            except StaleConnection as exc:
                conn.finish()
                # A keep-alive connection the origin had closed: sent again once, on a fresh
                # connection, only when nothing is lost by it (no body; an idempotent method).
                if attempt == 0 and not has_body and method in IDEMPOTENT:
                    continue
                await self._fail(send, exc, decision)
                return
            except BodyTooLarge as exc:
                conn.abort()
                conn.finish()
                await self._send_error(send, exc, decision)
                return
            except _ClientGone:
                conn.abort()
                conn.finish()
                return
            except ProxyError as exc:
                conn.finish()
                await self._fail(send, exc, decision)
                return
            except BaseException:
                conn.abort()
                conn.finish()
                raise
            break
        try:
            await self._relay(conn, send, receive if body_done else None, decision)
        finally:
            conn.finish()

    async def _send_body(self, conn: UpstreamConnection, receive: Receive, chunked: bool) -> None:
        """Stream the client's body to the origin, waiting while the origin's side is full."""
        size = 0
        limit = self.max_body_bytes
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge()
                if conn.closed or conn.head_done:
                    # The origin answered (or hung up) early: stop sending, read its answer.
                    # The body is cut short, so the origin would read the next request as the
                    # rest of it: this connection carries no other request.
                    conn.keep_alive = False
                    if not more:
                        return
                    continue
                if chunked:
                    conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                else:
                    conn.write(chunk)
                if conn.write_paused:
                    await conn.drain()
            if not more:
                if chunked and not conn.closed:
                    conn.write(b"0\r\n\r\n")
                return

    async def _relay(self, conn: UpstreamConnection, send: Send,
                     receive: Receive | None, decision: Any = None) -> None:
        headers = conn.headers
        sniff = None
        if self.engine is not None:
            self._response_side(decision, conn.status, conn.identify, headers,
                                conn.order_value)
            # The unmatched-routes sample asked for this page's HTML (rare; off by default).
            sniff = decision.sniff if decision is not None else None
            if sniff is not None and (conn.status != 200 or not any(
                    n.lower() == b"content-type" and b"html" in v.lower() for n, v in headers)):
                sniff = None
        # The header list came from our upstream parser (plus our own cookies and headers):
        # the server may write it without re-checking each header (proxy.server._Cycle).
        start = {"type": "http.response.start", "status": conn.status, "headers": headers,
                 TRUSTED_HEAD: True}
        if conn.no_body:
            await send(start)
            await send(_END)
            return
        if conn.done or conn.chunks:
            # Head and the first body bytes arrived together: hand them on back to back.
            first = conn.take()
            if sniff is not None and first:
                self.engine.unmatched.body("GET", sniff, first)
                sniff = None
            if first is not None:
                start[BODY_FOLLOWS] = True  # the head may go out with the first chunk
            await send(start)
            if first is None:
                await send(_END)
                return
            if conn.done and not conn.chunks:
                await send({"type": "http.response.body", "body": first})
                return
            await send({"type": "http.response.body", "body": first, "more_body": True})
        else:
            await send(start)
        # An open-ended body may never end on its own: watch for the client leaving. A task
        # costs ~10 us, so bodies with a length (they end) go without one.
        watcher = (asyncio.ensure_future(_watch_disconnect(receive, conn))
                   if receive is not None and not conn.has_length else None)
        try:
            while True:
                try:
                    chunk = await conn.read_chunk()
                except ProxyError as exc:
                    # The response has started, so the only honest signal left is to cut the
                    # connection: returning without the final body message makes the server
                    # close it.
                    if watcher is None or not watcher.done():
                        self._count("mid_body")
                        logger.warning("upstream died mid-body: %r", exc)
                    return
                if chunk is None:
                    break
                if sniff is not None and chunk:
                    self.engine.unmatched.body("GET", sniff, chunk)
                    sniff = None
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            if watcher is not None:
                watcher.cancel()
        await send(_END)

    def _response_side(self, decision: Any, status: int, identify: bytes | None,
                       headers: Headers, order_value: bytes | None = None) -> None:
        """What the middleware's response hook does, on the header list built in the one walk
        over the origin's headers (the identify header was taken out there): the engine
        hears the status and the identify value, our cookies (and exposed headers) join."""
        if decision.__class__ is _Skip:
            headers.append(decision.header)
            return
        engine = self.engine
        try:
            engine.on_response(decision, status, identify, order_value)
        except Exception as exc:  # the response side fails open too
            engine.fail_open("response", repr(exc))
        if decision is not None:
            headers.extend(decision.set_cookies)  # after on_response: identify adds one
            if self._expose:
                headers.extend(decision.headers)
                if decision.skipped:
                    headers.append((engine.h_skipped, decision.skipped))

    async def _fail(self, send: Send, error: ProxyError, decision: Any = None) -> None:
        if isinstance(error, UpstreamTimeout):
            self._count("timeout")
        else:
            self._count("connect")
            logger.warning("upstream request failed: %s", error.reason)
        await self._send_error(send, error, decision)

    async def _send_error(self, send: Send, error: ProxyError, decision: Any = None) -> None:
        start, body = _error(error.status, error.reason)
        if self.engine is not None:
            self._response_side(decision, error.status, None, start["headers"])
        await send(start)
        await send(body)

    def _count(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.upstream_errors[kind] += 1

    # -- websocket -------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket reached the ASGI app: the server in front is not ``proxy.server``'s
        (which tunnels upgrades before any ASGI scope exists). Refuse the handshake."""
        first = await receive()
        if first["type"] == "websocket.connect":
            self._count("websocket")
            logger.warning("WebSocket upgrades are forwarded only under intentgate's server "
                           "protocol (proxy.server); refused")
            await send({"type": "websocket.close", "code": 1011})

    def tunnel(self, transport: asyncio.Transport, method: bytes, target: bytes,
               headers: Headers, client: tuple[str, int] | None, scheme: str,
               early: bytes) -> None:
        """Take over a client connection that asked for an upgrade: send its request head to
        the origin (our headers rewritten as for any request, ``Connection``/``Upgrade`` kept,
        client ``X-Intent-*`` dropped) and, from then on, copy bytes both ways unchanged, with
        back-pressure. An origin that cannot be reached is answered with a 502."""
        scope = {"method": method.decode("latin-1"), "raw_path": target.partition(b"?")[0],
                 "path": "", "query_string": target.partition(b"?")[2], "client": client,
                 "scheme": scheme,
                 "headers": [(n, v) for n, v in headers
                             if not n.startswith(self.strip_prefix)]}
        parts, _, _ = self._head(scope)
        upgrade = next((v for n, v in headers if n == b"upgrade"), b"websocket")
        parts += (b"connection: upgrade\r\nupgrade: ", upgrade, b"\r\n\r\n")
        transport.pause_reading()
        asyncio.get_running_loop().create_task(
            self._open_tunnel(transport, b"".join(parts), early))

    async def _open_tunnel(self, client: asyncio.Transport, head: bytes, early: bytes) -> None:
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            upstream, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _Splice(None), pool.host, pool.port,
                                       ssl=pool.ssl,
                                       server_hostname=pool.server_hostname if pool.ssl
                                       else None),
                self.timeouts.connect)
        except (OSError, TimeoutError) as exc:
            self._count("websocket")
            logger.warning("websocket upstream unreachable: %r", exc)
            body = UpstreamUnavailable.reason.encode() + b"\n"
            client.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8"
                         b"\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%b"
                         % (len(body), body))
            client.close()
            return
        up_side: _Splice = upstream.get_protocol()  # type: ignore[assignment]
        up_side.peer = client
        client.set_protocol(_Splice(upstream))
        upstream.write(head + early)
        client.resume_reading()


class _Splice(asyncio.Protocol):
    """One side of a byte tunnel: what arrives is written to ``peer`` unchanged. While this
    side's send buffer is full, the peer stops reading; when either side closes (or half-closes:
    a WebSocket ends with its own close handshake), both are closed, buffered bytes flushed."""

    def __init__(self, peer: asyncio.Transport | None) -> None:
        self.peer = peer

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.write(data)

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()

    def eof_received(self) -> bool | None:
        if self.peer is not None:
            self.peer.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.close()


class _Skip:
    """An unclassified request's reason, carried to its response as ``X-Intent-Skipped`` (only
    with exposed headers); stands where a decision would."""

    __slots__ = ("header",)
    sniff = None

    def __init__(self, header: tuple[bytes, bytes]) -> None:
        self.header = header
