"""Forwarding one request to the origin and streaming the answer back (raw ASGI, aiohttp client).

The only module that talks to the origin. Bodies are streamed both ways and never read whole;
the raw path and query go out byte for byte; hop-by-hop headers are dropped in both directions;
the client keeps no cookie jar, never decompresses and never follows redirects. Upstream failures
become 502 (refused, reset) or 504 (timeout) with a short body saying which. It must not look at
``X-Intent-*`` headers: the middleware above it owns those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from proxy.errors import BodyTooLarge, ProxyError, UpstreamTimeout, UpstreamUnavailable
from proxy.types import Headers, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# RFC 9110 section 7.6.1, plus the pre-standard names still seen in the wild.
HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"trailers", b"transfer-encoding", b"upgrade", b"proxy-connection",
        b"http2-settings",
    }
)
# The server already answered ``Expect: 100-continue`` to the client; forwarding it would make
# the client library wait for a second 100 from the origin.
_REQUEST_ONLY_DROP = frozenset({b"expect"})
_FORWARDING = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                         b"forwarded", b"x-real-ip"})
_NO_BODY_STATUS = frozenset({204, 304})
_PROTO = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Upstream deadlines in seconds: open a connection, wait between reads (the response head
    and each body chunk), wait for a free pooled connection."""

    connect: float = 5.0
    read: float = 30.0
    pool: float = 5.0


class _BodyReader:
    """Streams the client's body to aiohttp, counting bytes against the limit. aiohttp wraps
    an exception raised here in its own connection error, so the verdict is kept on the object."""

    __slots__ = ("receive", "limit", "too_large", "done")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.too_large = False
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise UpstreamUnavailable("client went away while sending its body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                self.too_large = True
                raise BodyTooLarge()
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                self.done = True
                return


def _error(status: int, text: str) -> tuple[Message, Message]:
    body = text.encode() + b"\n"
    headers: Headers = [(b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store")]
    if status == 413:
        # The rest of the body is still on its way: close rather than read it.
        headers.append((b"connection", b"close"))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


def _translate(exc: BaseException) -> ProxyError:
    """An aiohttp/OS failure as the proxy error the client is answered with."""
    if isinstance(exc, ProxyError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout()
    return UpstreamUnavailable()


async def _watch_disconnect(receive: Receive, resp: aiohttp.ClientResponse) -> None:
    """Stop pulling an open-ended body from the origin once the client has gone (uvicorn's
    ``send`` silently drops messages after a disconnect, so the relay loop cannot tell)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            resp.close()
            return


class ForwardApp:
    """Forward ``http`` and ``websocket`` scopes to one upstream; see the module docstring.

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
    ) -> None:
        url = URL(upstream)
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise ValueError(f"upstream must be an http(s) URL with a host: {upstream!r}")
        self.upstream = str(url.origin())
        self.upstream_host = (url.raw_authority or "").encode()
        self._base_path = url.raw_path.rstrip("/").encode()
        self.timeouts = timeouts
        self.max_body_bytes = max_body_bytes
        self.preserve_host = preserve_host
        self.trusted_hops = trusted_hops
        self.pool_size = pool_size
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        self._ws_scheme = "wss" if url.scheme == "https" else "ws"

    async def startup(self) -> None:
        """Open the pooled keep-alive upstream client (idempotent)."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self.pool_size, ttl_dns_cache=300, enable_cleanup_closed=False,
            # Below the 5 s idle timeout of uvicorn/gunicorn origins, so we rarely pick a
            # connection the origin is about to close (the retry covers the rest).
            keepalive_timeout=4.0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # never share one shopper's cookies
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self.timeouts.pool + self.timeouts.connect,  # pool wait + connect
                sock_connect=self.timeouts.connect,
                sock_read=self.timeouts.read,
            ),
            raise_for_status=False,
        )

    async def aclose(self) -> None:
        """Close the upstream client and its pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- request headers -------------------------------------------------------------------

    def _request_headers(self, scope: Scope) -> tuple[list[tuple[str, str]], int | None, bool]:
        """One pass over the client's headers: what goes upstream, the declared length, and
        whether the body is chunked."""
        connection_named: set[bytes] = set()
        cookies: list[bytes] = []
        out: list[tuple[str, str]] = []
        content_length: int | None = None
        chunked = False
        host: bytes | None = None
        client = scope.get("client")
        client_ip = client[0] if client else ""
        trusted = client_ip in self.trusted_hops
        xff: bytes | None = None
        xfp: bytes | None = None
        xfh: bytes | None = None
        for name, value in scope["headers"]:
            if name in HOP_BY_HOP:
                if name == b"connection":
                    connection_named.update(t.strip().lower() for t in value.split(b","))
                elif name == b"transfer-encoding":
                    chunked = True
                continue
            if name == b"host":
                host = value
                continue
            if name == b"cookie":
                cookies.append(value)  # RFC 9113 8.2.3 / RFC 6265 5.4: one header, "; "
                continue
            if name == b"content-length":
                content_length = int(value) if value.isdigit() else None
            elif name in _FORWARDING:
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
            elif name in _REQUEST_ONLY_DROP:
                continue
            out.append((name.decode("latin-1"), value.decode("latin-1")))
        if connection_named:
            out = [(n, v) for n, v in out if n.encode("latin-1") not in connection_named]
        if cookies:
            out.append(("cookie", b"; ".join(cookies).decode("latin-1")))
        out.append(("x-forwarded-for", client_ip if xff is None
                    else xff.decode("latin-1") + ", " + client_ip))
        out.append(("x-forwarded-proto", xfp.decode("latin-1") if xfp is not None
                    else _PROTO.get(scope.get("scheme", "http"), "http")))
        if xfh is not None or host is not None:
            out.append(("x-forwarded-host", (xfh or host or b"").decode("latin-1")))
        out.append(("host", (host if (self.preserve_host and host) else self.upstream_host)
                    .decode("latin-1")))
        return out, content_length, chunked

    # -- http ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    def _target(self, scope: Scope) -> URL:
        # raw_path is what the client sent, percent-encoding and all; encoded=True stops yarl
        # from normalising it.
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = self._base_path + raw_path
        qs = scope.get("query_string", b"")
        if qs:
            target += b"?" + qs
        return URL(self.upstream + target.decode("latin-1"), encoded=True)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._session is None:
            await self.startup()
        session = self._session
        if session is None:  # pragma: no cover - startup always sets it
            raise RuntimeError("ForwardApp.startup() did not open a session")
        headers, content_length, chunked = self._request_headers(scope)
        method = scope["method"]
        if content_length is not None and content_length > self.max_body_bytes:
            await self._send_error(send, BodyTooLarge())
            return
        reader: _BodyReader | None = None
        if content_length or chunked:
            reader = _BodyReader(receive, self.max_body_bytes)
        try:
            # aiohttp itself retries an idempotent request once on a fresh connection when a
            # pooled one turns out closed (and never replays a body it has started sending).
            resp = await session.request(
                method, self._target(scope), headers=headers,
                data=None if reader is None else reader.chunks(),
                allow_redirects=False, compress=None, chunked=None,
            )
        except (ProxyError, TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self._fail(send, exc, reader)
            return
        try:
            await self._relay(resp, method, send, receive if reader is None or reader.done
                              else None)
        finally:
            resp.release()

    async def _fail(self, send: Send, exc: BaseException, reader: _BodyReader | None) -> None:
        error = BodyTooLarge() if reader is not None and reader.too_large else _translate(exc)
        if isinstance(error, UpstreamTimeout):
            self._count("timeout")
        elif not isinstance(error, BodyTooLarge):
            self._count("connect")
            logger.warning("upstream request failed: %r", exc)
        await self._send_error(send, error)

    async def _relay(self, resp: aiohttp.ClientResponse, method: str, send: Send,
                     receive: Receive | None) -> None:
        connection_named: set[bytes] = set()
        headers: Headers = []
        has_length = False
        for name, value in resp.raw_headers:
            low = name.lower()
            if low in HOP_BY_HOP:
                if low == b"connection":
                    connection_named.update(t.strip().lower() for t in value.split(b","))
                continue
            if low == b"content-length":
                has_length = True
            headers.append((name, value))
        if connection_named:
            headers = [(n, v) for n, v in headers if n.lower() not in connection_named]
        status = resp.status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
            await send({"type": "http.response.body", "body": b""})
            return
        # An open-ended (chunked) body may never end on its own: watch for the client leaving.
        # A task costs ~10 us, so bodies with a length (they end) go without one.
        watcher = (asyncio.ensure_future(_watch_disconnect(receive, resp))
                   if receive is not None and not has_length else None)
        try:
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # The response has started, so the only honest signal left is to cut the
            # connection: returning without the final body message makes the server close it.
            if watcher is None or not watcher.done():
                self._count("mid_body")
                logger.warning("upstream died mid-body: %r", exc)
            return
        finally:
            if watcher is not None:
                watcher.cancel()
        await send({"type": "http.response.body", "body": b""})

    async def _send_error(self, send: Send, error: ProxyError) -> None:
        start, body = _error(error.status, error.reason)
        await send(start)
        await send(body)

    def _count(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.upstream_errors[kind] += 1

    # -- websocket -------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._session is None:
            await self.startup()
        session = self._session
        if session is None:  # pragma: no cover - startup always sets it
            raise RuntimeError("ForwardApp.startup() did not open a session")
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        headers, _, _ = self._request_headers(scope)
        drop = {"host", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                "sec-websocket-protocol"}
        fwd = [(n, v) for n, v in headers if n not in drop]
        target = self._target(scope).with_scheme(self._ws_scheme)
        try:
            upstream = await session.ws_connect(
                target, headers=fwd, protocols=tuple(scope.get("subprotocols", ())),
                autoping=True, max_msg_size=4 * 1024 * 1024,
            )
        except (TimeoutError, aiohttp.ClientError, OSError):
            self._count("websocket")
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.protocol})

        async def client_to_upstream() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    await upstream.close()
                    return
                if message.get("bytes") is not None:
                    await upstream.send_bytes(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send_str(message["text"])

        async def upstream_to_client() -> None:
            async for msg in upstream:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await send({"type": "websocket.send", "text": msg.data})
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await send({"type": "websocket.send", "bytes": msg.data})
                else:
                    break
            await send({"type": "websocket.close", "code": upstream.close_code or 1000})

        tasks = [asyncio.ensure_future(client_to_upstream()),
                 asyncio.ensure_future(upstream_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await upstream.close()
