"""Our own HTTP/1.1 client towards the origin: one ``asyncio.Protocol`` per upstream connection,
``httptools.HttpResponseParser``, a LIFO pool of idle keep-alive connections.

Why not a library client: aiohttp costs about 80 µs more per request than this (measured in
``docs/performance.md``), most of it in machinery a reverse proxy does not use (cookie jars,
decompression, redirects, URL objects, per-request tasks and timers).

What a connection does for one exchange:
- the request head goes out as one pre-built ``bytes`` (the caller builds it in one walk over
  the client's headers); a body is written chunk by chunk and waits while the kernel's buffer
  is full (``pause_writing``), so a slow origin slows the client's upload down;
- the response head is parsed by httptools; hop-by-hop headers and ``Transfer-Encoding`` are
  dropped as each header arrives (the one walk over the response headers), the header names
  come out lower-case; interim ``1xx`` answers are skipped;
- body chunks are buffered up to ``HIGH_WATER`` and reading from the origin pauses beyond it,
  until the consumer (the client side) has taken them: memory per exchange stays bounded
  whatever the client's speed;
- Content-Length, chunked and close-delimited bodies; no body for HEAD, 204, 304;
- a header section over ``max_header_bytes`` fails the exchange (502) and the connection;
- one timer per exchange enforces the read deadline (time since the origin last sent a byte,
  counted only while we wait for it).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque

import httptools

from proxy.errors import UpstreamTimeout, UpstreamUnavailable

# RFC 9110 section 7.6.1, plus the pre-standard names still seen in the wild.
HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"trailers", b"transfer-encoding", b"upgrade", b"proxy-connection",
        b"http2-settings",
    }
)
HIGH_WATER = 256 * 1024  # response bytes buffered per exchange before reading pauses
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class HeaderSectionTooLarge(UpstreamUnavailable):
    reason = "upstream header section too large"


class StaleConnection(UpstreamUnavailable):
    """A reused keep-alive connection closed before any byte of the answer arrived."""


class UpstreamConnection(asyncio.Protocol):
    """One TCP connection to the origin; one exchange at a time (see the module docstring)."""

    __slots__ = (
        "pool", "loop", "transport", "parser", "reused", "idle_since", "closed", "waiter",
        "status", "headers", "connection_named", "head_done", "chunks", "buffered", "done",
        "error", "received", "head_bytes", "raw_head", "no_body", "framed", "has_length",
        "keep_alive", "interim",
        "write_paused", "drain_waiter", "read_paused", "last_read", "timer", "in_use",
        "identify_name", "identify", "order_name", "order_value",
    )

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reused = False
        self.idle_since = 0.0
        self.closed = False
        self.in_use = False
        self.waiter: asyncio.Future[None] | None = None
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.read_paused = False
        self.timer: asyncio.TimerHandle | None = None
        self.identify_name = b""
        self.order_name = b""
        self._reset(False)

    def _reset(self, no_body: bool) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.connection_named: list[bytes] | None = None
        self.head_done = False
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.done = False
        self.error: BaseException | None = None
        self.received = False
        self.head_bytes = 0
        self.raw_head = 0
        self.no_body = no_body
        self.framed = False  # Content-Length or chunked: the body's end is known
        self.has_length = False
        self.keep_alive = True
        self.interim = False
        self.identify: bytes | None = None
        self.order_value: bytes | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.in_use:
            # An idle connection the origin talks on is out of step with it: never reuse it.
            self._close()
            return
        self.received = True
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
            if not self.head_done and not self.done:
                # httptools hands a header over only once it is complete: count raw bytes
                # too, so one endless header line cannot be buffered without bound.
                self.raw_head += len(data)
                if self.raw_head > self.pool.max_header_bytes + 8192:
                    self._fail(HeaderSectionTooLarge())
        except HeaderSectionTooLarge as exc:
            self._fail(exc)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadDone):
                self._wake()  # a body-less answer is complete with its head
            else:
                self._fail(cause if isinstance(cause, HeaderSectionTooLarge)
                           else UpstreamUnavailable())
        except httptools.HttpParserError:
            self._fail(UpstreamUnavailable())
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamUnavailable())  # an upgrade we did not ask for

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._lost(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.in_use and not self.done and self.error is None:
            if self.head_done and not self.framed and not self.no_body:
                self.done = True  # a close-delimited body ends with the connection
                self.keep_alive = False
            elif self.reused and not self.received:
                self.error = StaleConnection()
            else:
                self.error = UpstreamUnavailable()
        self._wake()
        dw = self.drain_waiter
        if dw is not None and not dw.done():
            dw.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        dw = self.drain_waiter
        if dw is not None and not dw.done():
            dw.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > self.pool.max_header_bytes:
            raise HeaderSectionTooLarge()
        low = name.lower()
        if low in HOP_BY_HOP:
            if low == b"connection":
                tokens = [t.strip().lower() for t in value.split(b",")]
                if b"close" in tokens:
                    self.keep_alive = False
                named = self.connection_named
                if named is None:
                    self.connection_named = tokens
                else:
                    named.extend(tokens)
            elif low == b"transfer-encoding":
                self.framed = True
            return
        if low == b"content-length":
            self.framed = self.has_length = True
        elif low == self.identify_name:
            self.identify = value
            return
        elif low == self.order_name:
            self.order_value = value
            return
        self.headers.append((low, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            # An interim answer (100 Continue, 103 Early Hints): the final one follows.
            self.interim = True
            self.headers = []
            self.connection_named = None
            self.framed = False
            return
        self.status = status
        self.head_done = True
        if not self.parser.should_keep_alive():
            self.keep_alive = False
        named = self.connection_named
        if named:
            drop = frozenset(named)
            self.headers = [h for h in self.headers if h[0] not in drop]
        if self.no_body or status == 204 or status == 304:
            self.no_body = True
            self.done = True
            if self.framed and not self.parser.should_keep_alive():
                self.keep_alive = False
            # httptools cannot be told that a HEAD answer has no body: a fresh parser reads
            # the next answer on this connection.
            self.parser = httptools.HttpResponseParser(self)
            raise _HeadDone()
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        if self.waiter is not None:
            self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.done = True
        self._wake()

    # -- the exchange ----------------------------------------------------------------------

    def _wake(self) -> None:
        w = self.waiter
        if w is not None:
            self.waiter = None
            if not w.done():
                w.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None and not self.done:
            self.error = exc
        self.keep_alive = False
        self._close()
        self._wake()

    def _close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now (the exchange is abandoned mid-way)."""
        self.keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def start(self, head: bytes, no_body: bool) -> None:
        """Send the request head; the answer is read with ``read_head``/``read_chunk``."""
        self._reset(no_body)
        self.in_use = True
        self.last_read = now = self.loop.time()
        if self.timer is None:
            # One timer per connection, not per exchange: it stays armed across keep-alive
            # exchanges and re-arms itself from ``last_read`` (set and cancelled per
            # exchange it cost ~1.5 µs per request).
            self.timer = self.loop.call_at(now + self.pool.read_timeout, self._check_deadline)
        self.transport.write(head)  # type: ignore[union-attr]

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)  # type: ignore[union-attr]

    async def drain(self) -> None:
        """Wait while the kernel's send buffer towards the origin is full."""
        if self.write_paused and not self.closed:
            self.drain_waiter = self.loop.create_future()
            try:
                await self.drain_waiter
            finally:
                self.drain_waiter = None
        if self.error is not None:
            raise self.error

    def _check_deadline(self) -> None:
        self.timer = None
        if not self.in_use or self.closed:
            return  # idle in the pool (or gone): the next exchange arms it again
        if self.done or self.error is not None:
            # This exchange is over but not yet handed back: look again a deadline later.
            self.timer = self.loop.call_at(self.loop.time() + self.pool.read_timeout,
                                           self._check_deadline)
            return
        now = self.loop.time()
        read = self.pool.read_timeout
        if self.waiter is not None and now - self.last_read >= read:
            self._fail(UpstreamTimeout())
            return
        # Waiting: the deadline is ``last_read + read`` (this timer may have been armed by an
        # earlier exchange on the connection); not waiting, the time does not count yet.
        when = self.last_read + read if self.waiter is not None else now + read
        self.timer = self.loop.call_at(max(when, now), self._check_deadline)

    async def _wait(self) -> None:
        waiter = self.loop.create_future()
        self.waiter = waiter
        try:
            await waiter
        finally:
            self.waiter = None

    async def read_head(self) -> None:
        """Until the final response head has arrived (raises the exchange's error)."""
        while not self.head_done:
            if self.error is not None:
                raise self.error
            await self._wait()

    def take(self) -> bytes | None:
        """``read_chunk`` without waiting, for a caller that knows bytes are buffered or the
        body is complete (``chunks`` or ``done``): saves a coroutine per response."""
        chunks = self.chunks
        if not chunks:
            return None
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = []
        self.buffered = 0
        if self.read_paused and not self.closed:
            self.read_paused = False
            self.last_read = self.loop.time()
            self.transport.resume_reading()  # type: ignore[union-attr]
        return data

    async def read_chunk(self) -> bytes | None:
        """The body bytes buffered so far (waiting for some); ``None`` at the end of the body.
        Raises the exchange's error when the origin failed mid-body."""
        while True:
            if self.chunks:
                return self.take()
            if self.done:
                return None
            if self.error is not None:
                raise self.error
            await self._wait()

    def finish(self) -> None:
        """The exchange is over: back to the pool if the connection can serve another."""
        self.in_use = False
        reusable = self.done and self.keep_alive and self.error is None and not self.closed
        if not reusable and self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.read_paused and reusable and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        self.pool.release(self, reusable)


class _HeadDone(Exception):
    """Raised from ``on_headers_complete`` to stop the parser after a body-less answer."""


class UpstreamPool:
    """Keep-alive connections to one origin: at most ``limit`` open, idle ones reused newest
    first (so the rest can expire), a waiter queue bounded by ``pool_timeout``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        limit: int = 256,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_timeout: float = 5.0,
        keepalive_timeout: float = 4.0,
        max_header_bytes: int = 64 * 1024,
        identify_header: bytes = b"",
        order_value_header: bytes = b"",
    ) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.limit = limit
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_timeout = pool_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_header_bytes = max_header_bytes
        self.identify_header = identify_header  # taken out of answers into .identify
        self.order_value_header = order_value_header  # and into .order_value
        self.idle: list[UpstreamConnection] = []
        self.count = 0  # open or opening
        self.waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.closing = False

    def take_idle(self) -> UpstreamConnection | None:
        """The newest idle connection still fresh enough to reuse, or None (no waiting: the
        request path tries this before awaiting ``acquire``)."""
        idle = self.idle
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if now - conn.idle_since > self.keepalive_timeout:
                conn._close()
                continue
            conn.reused = True
            return conn
        return None

    async def acquire(self) -> UpstreamConnection:
        """An idle connection (newest first) or a new one; waits for one when at the limit."""
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        deadline = 0.0
        while True:
            conn = self.take_idle()
            if conn is not None:
                return conn
            if self.count < self.limit:
                return await self._connect()
            if not deadline:
                deadline = loop.time() + self.pool_timeout
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise UpstreamTimeout()
            waiter: asyncio.Future[UpstreamConnection | None] = loop.create_future()
            self.waiters.append(waiter)
            try:
                conn_or_none = await asyncio.wait_for(waiter, remaining)
            except BaseException as exc:
                if waiter in self.waiters:
                    self.waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    # Handed a connection (or a free slot) just as we gave up: pass it on.
                    handed = waiter.result()
                    if handed is not None:
                        self.release(handed, True)
                    else:
                        self.count += 1
                        self._freed()
                if isinstance(exc, TimeoutError):
                    raise UpstreamTimeout() from None
                raise
            if conn_or_none is not None:
                conn_or_none.reused = True
                return conn_or_none

    async def _connect(self) -> UpstreamConnection:
        self.count += 1
        try:
            _, proto = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: UpstreamConnection(self), self.host, self.port, ssl=self.ssl,
                    server_hostname=self.server_hostname if self.ssl else None),
                self.connect_timeout,
            )
        except TimeoutError:
            self._freed()
            raise UpstreamTimeout() from None
        except OSError as exc:
            self._freed()
            raise UpstreamUnavailable() from exc
        except BaseException:
            self._freed()
            raise
        proto.identify_name = self.identify_header
        proto.order_name = self.order_value_header
        return proto

    def _freed(self) -> None:
        """A connection slot came free: let the oldest waiter open one."""
        self.count -= 1
        while self.waiters:
            w = self.waiters.popleft()
            if not w.done():
                w.set_result(None)
                return

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        if not reusable or self.closing:
            conn.abort() if not conn.done else conn._close()
            return
        while self.waiters:
            w = self.waiters.popleft()
            if not w.done():
                w.set_result(conn)
                return
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def _lost(self, conn: UpstreamConnection) -> None:
        """A connection closed (either side): its slot is free."""
        if conn in self.idle:
            self.idle.remove(conn)
        self._freed()

    async def aclose(self) -> None:
        self.closing = True
        idle, self.idle = self.idle, []
        for conn in idle:
            conn._close()
        if idle:
            await asyncio.sleep(0)  # let the transports run connection_lost
