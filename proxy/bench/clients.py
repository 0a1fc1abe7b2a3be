"""Minimal raw-ASGI passthroughs used only by ``intentgate bench`` to compare upstream clients
on equal terms (same server stack, no classification, no header rewriting beyond hop-by-hop):

    python -m proxy.bench.clients httpx|aiohttp|own|protocol UPSTREAM PORT

``own`` is the proxy's own client (``proxy.upstream``) with nothing around it: the floor the
full forwarding path (``passthrough``) is measured against. aiohttp comes from the ``bench``
extra. ``protocol`` is not ASGI at all: the same client driven from an ``asyncio.Protocol``
with httptools on the client side too, callbacks only (no task, no scope, no message dicts
per request) — what a protocol-level server path would cost (docs/performance.md says what
it lacks).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from proxy.forward import HOP_BY_HOP
from proxy.types import Receive, Scope, Send


def _lifespan(start: Any, stop: Any) -> Any:
    async def handle(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await start()
                await send({"type": "lifespan.startup.complete"})
            else:
                await stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
    return handle


def create_httpx_passthrough(upstream: str) -> Any:
    import httpx

    state: dict[str, Any] = {}

    async def start() -> None:
        state["client"] = httpx.AsyncClient(base_url=upstream, follow_redirects=False)

    async def stop() -> None:
        await state["client"].aclose()

    lifespan = _lifespan(start, stop)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        client = state["client"]
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"]
                                      else b"")
        req = client.build_request(scope["method"], target.decode("latin-1"), headers=headers)
        resp = await client.send(req, stream=True)
        try:
            await send({"type": "http.response.start", "status": resp.status_code,
                        "headers": [(k, v) for k, v in resp.headers.raw
                                    if k.lower() not in HOP_BY_HOP]})
            async for chunk in resp.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await resp.aclose()

    return app


def create_aiohttp_passthrough(upstream: str) -> Any:
    import aiohttp
    from yarl import URL

    state: dict[str, Any] = {}

    async def start() -> None:
        state["session"] = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                                 auto_decompress=False)

    async def stop() -> None:
        await state["session"].close()

    lifespan = _lifespan(start, stop)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k not in HOP_BY_HOP]
        target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"]
                                      else b"")
        async with state["session"].request(
            scope["method"], URL(upstream + target.decode("latin-1"), encoded=True),
            headers=headers, allow_redirects=False,
        ) as resp:
            await send({"type": "http.response.start", "status": resp.status,
                        "headers": [(k, v) for k, v in resp.raw_headers
                                    if k.lower() not in HOP_BY_HOP]})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def create_own_passthrough(upstream: str) -> Any:
    """The proxy's own client, no rewriting but hop-by-hop: request bodies are streamed too
    (chunked towards the origin when the client sent no length)."""
    from urllib.parse import urlsplit

    from proxy.upstream import UpstreamPool

    url = urlsplit(upstream)
    pool = UpstreamPool(url.hostname or "127.0.0.1", url.port or 80)

    async def start() -> None:
        pool.loop = asyncio.get_running_loop()

    lifespan = _lifespan(start, pool.aclose)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        qs = scope["query_string"]
        parts = [scope["method"].encode(), b" ", scope["raw_path"],
                 b"?" + qs + b" HTTP/1.1\r\n" if qs else b" HTTP/1.1\r\n"]
        length = None
        for k, v in scope["headers"]:
            if k not in HOP_BY_HOP:
                parts += (k, b": ", v, b"\r\n")
                if k == b"content-length":
                    length = v
        body = length not in (None, b"0") or any(k == b"transfer-encoding"
                                                 for k, _ in scope["headers"])
        if body and length is None:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        conn = await pool.acquire()
        conn.start(b"".join(parts), scope["method"] == "HEAD")
        try:
            while body:
                message = await receive()
                chunk = message.get("body", b"")
                if chunk:
                    conn.write(chunk if length is not None
                               else b"%x\r\n%b\r\n" % (len(chunk), chunk))
                if not message.get("more_body"):
                    if length is None:
                        conn.write(b"0\r\n\r\n")
                    break
            await conn.read_head()
            await send({"type": "http.response.start", "status": conn.status,
                        "headers": conn.headers})
            while (data := await conn.read_chunk()) is not None:
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            conn.finish()

    return app


class _ProtocolPassthrough(asyncio.Protocol):
    """One client connection of the protocol-level passthrough (bench only).

    Requests are parsed by httptools; on the header section the head towards the origin is
    built (hop-by-hop headers dropped) and written on an idle pooled connection, and the
    exchange is driven by the connection's wake-ups (``UpstreamConnection.waiter``) through
    future callbacks. Handles keep-alive, Content-Length and chunked request bodies and any
    response framing (a response without a length goes out chunked). It lacks what the real
    server path has: the limits and smuggling checks of ``proxy.server``, ``Expect:
    100-continue``, upgrades (WebSocket tunnel), pipelining, back-pressure towards a slow
    client, timeouts other than the client's own, and every forwarding rule of
    ``proxy.forward`` (``X-Forwarded-*``, 413, 502/504 bodies, a stale-connection retry)."""

    def __init__(self, pool: Any) -> None:
        import httptools

        self.pool = pool
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.url = b""
        self.parts: list[bytes] = []
        self.conn: Any = None
        self.pending: list[bytes] = []
        self.chunked_req = False
        self.head_sent = False
        self.chunked_resp = False
        self.request_done = False
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n"
                                 b"connection: close\r\n\r\n")
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.abort()
            conn.finish()

    # httptools (client side)
    def on_message_begin(self) -> None:
        self.url = b""
        self.parts = []
        self.pending = []
        self.chunked_req = False
        self.head_sent = False
        self.chunked_resp = False
        self.request_done = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        low = name.lower()
        if low in HOP_BY_HOP:
            if low == b"transfer-encoding":
                self.chunked_req = True
            return
        self.parts += (low, b": ", value, b"\r\n")

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.keep_alive = parser.should_keep_alive()
        method = parser.get_method()
        parts = [method, b" ", self.url, b" HTTP/1.1\r\n", *self.parts]
        if self.chunked_req:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        head = b"".join(parts)
        self.transport.pause_reading()  # one exchange at a time (no pipelining)
        pool = self.pool
        while pool.idle:
            conn = pool.idle.pop()
            if not conn.closed:
                conn.reused = True
                self._start(conn, head, method == b"HEAD")
                return
        task = asyncio.ensure_future(pool.acquire())
        task.add_done_callback(lambda t: self._connected(t, head, method == b"HEAD"))

    def _connected(self, task: Any, head: bytes, is_head: bool) -> None:
        if task.cancelled() or task.exception() is not None or self.transport.is_closing():
            self._fail()
            return
        self._start(task.result(), head, is_head)

    def _start(self, conn: Any, head: bytes, is_head: bool) -> None:
        self.conn = conn
        conn.start(head, is_head)
        for chunk in self.pending:
            conn.write(chunk)
        self.pending = []
        self.transport.resume_reading()  # the request body, if any
        self._arm()

    def on_body(self, body: bytes) -> None:
        data = b"%x\r\n%b\r\n" % (len(body), body) if self.chunked_req else body
        if self.conn is not None:
            self.conn.write(data)
        else:
            self.pending.append(data)

    def on_message_complete(self) -> None:
        if self.chunked_req:
            self.on_body_end()
        self.request_done = True
        self.transport.pause_reading()

    def on_body_end(self) -> None:
        if self.conn is not None:
            self.conn.write(b"0\r\n\r\n")
        else:
            self.pending.append(b"0\r\n\r\n")

    # the exchange, driven by the upstream connection's wake-ups
    def _arm(self) -> None:
        conn = self.conn
        if conn.waiter is None:
            waiter = conn.loop.create_future()
            waiter.add_done_callback(self._step)
            conn.waiter = waiter

    def _fail(self) -> None:
        if not self.head_sent:
            self.transport.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n"
                                 b"connection: close\r\n\r\n")
        self.transport.close()

    def _step(self, _fut: Any = None) -> None:
        conn = self.conn
        if conn is None:
            return
        if conn.error is not None:
            self.conn = None
            conn.finish()
            self._fail()
            return
        if not conn.head_done:
            self._arm()
            return
        out: list[bytes] = []
        if not self.head_sent:
            self.head_sent = True
            out.append(_STATUS.get(conn.status) or b"HTTP/1.1 %d -\r\n" % conn.status)
            framed = conn.no_body
            for name, value in conn.headers:
                out += (name, b": ", value, b"\r\n")
                if name == b"content-length":
                    framed = True
            if not framed:
                self.chunked_resp = True
                out.append(b"transfer-encoding: chunked\r\n")
            if not self.keep_alive:
                out.append(b"connection: close\r\n")
            out.append(b"\r\n")
        data = conn.take()
        if data is not None:
            if self.chunked_resp:
                out += (b"%x\r\n" % len(data), data, b"\r\n")
            else:
                out.append(data)
        if conn.done:
            if self.chunked_resp:
                out.append(b"0\r\n\r\n")
            self.transport.write(b"".join(out))
            self.conn = None
            conn.finish()
            if not self.keep_alive:
                self.transport.close()
            else:
                self.transport.resume_reading()
            return
        if out:
            self.transport.write(b"".join(out))
        self._arm()


def _status_lines() -> dict[int, bytes]:
    from http import HTTPStatus

    return {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


_STATUS = _status_lines()


def serve_protocol(upstream: str, port: int) -> int:
    """The protocol-level passthrough on uvloop, until SIGTERM/SIGINT."""
    import signal
    from urllib.parse import urlsplit

    import uvloop

    from proxy.upstream import UpstreamPool

    url = urlsplit(upstream)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        pool = UpstreamPool(url.hostname or "127.0.0.1", url.port or 80)
        pool.loop = loop
        server = await loop.create_server(lambda: _ProtocolPassthrough(pool), "127.0.0.1",
                                          port, backlog=1024)
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set_result, None)
        await stop
        server.close()
        await pool.aclose()

    uvloop.run(run())
    return 0


def main(argv: list[str]) -> int:
    import uvicorn

    kind, upstream, port = argv
    if kind == "protocol":
        return serve_protocol(upstream.rstrip("/"), int(port))
    factory = {"httpx": create_httpx_passthrough, "aiohttp": create_aiohttp_passthrough,
               "own": create_own_passthrough}[kind]
    uvicorn.run(factory(upstream.rstrip("/")), host="127.0.0.1", port=int(port),
                http="httptools", loop="uvloop", log_level="warning", access_log=False,
                proxy_headers=False, server_header=False, date_header=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
