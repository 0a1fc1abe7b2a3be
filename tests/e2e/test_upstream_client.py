"""The proxy's own upstream client (proxy/upstream.py) against raw origins on loopback: the
behaviours a library client used to give us, each pinned by a test that fails if it breaks."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.forward import ForwardApp, Timeouts
from proxy.server import HardenedHttpToolsProtocol, ServerLimits, uvicorn_kwargs
from proxy.upstream import HIGH_WATER, UpstreamConnection, UpstreamPool
from tests.e2e.test_forwarding import _Served
from tests.servers import serve_in_thread


@pytest.fixture
def forward_to() -> Iterator[Callable[..., str]]:
    """``forward_to(upstream, **ForwardApp kwargs)`` -> base URL of a served ForwardApp under
    the proxy's own server stack."""
    saved = HardenedHttpToolsProtocol.limits
    with ExitStack() as stack:
        def factory(target: str, **kwargs: Any) -> str:
            served = _Served(ForwardApp(target, **kwargs))
            return stack.enter_context(
                serve_in_thread(served, **uvicorn_kwargs(ServerLimits())))
        yield factory
    HardenedHttpToolsProtocol.limits = saved


def _addr(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    """One request head from ``conn`` (and what came after it); b"" when the peer closed."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return b"", b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


class RawOrigin:
    """A bare TCP origin: ``handle(conn, origin)`` runs in a thread per accepted connection;
    ``connections`` counts them and ``requests`` lists the request lines seen."""

    def __init__(self, handle: Callable[[socket.socket, RawOrigin], None],
                 backlog: int = 64) -> None:
        self.handle = handle
        self.server = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections = 0
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handle(conn, self)
            except OSError:
                pass

    def head(self, conn: socket.socket) -> bytes:
        head, _ = _read_head(conn)
        if head:
            self.requests.append(head.split(b"\r\n", 1)[0])
        return head


@contextmanager
def raw_origin(handle: Callable[[socket.socket, RawOrigin], None]) -> Iterator[RawOrigin]:
    origin = RawOrigin(handle)
    origin.thread.start()
    try:
        yield origin
    finally:
        origin.stop.set()
        origin.thread.join(5)
        origin.server.close()


# -- stale keep-alive connections -----------------------------------------------------------


def _answer_once_then_drop(conn: socket.socket, origin: RawOrigin) -> None:
    # Answers the first request, reads the next one and hangs up without a word: what a
    # keep-alive origin does when its idle timer fires just as the connection is reused.
    if origin.head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    origin.head(conn)


def test_stale_keepalive_connection_is_retried_for_get(forward_to: Callable[..., str]) -> None:
    with raw_origin(_answer_once_then_drop) as origin:
        proxy = forward_to(origin.url)
        with httpx.Client() as client:
            assert client.get(f"{proxy}/first").text == "ok"
            r = client.get(f"{proxy}/second")
        assert r.status_code == 200 and r.text == "ok"
        # The GET reached the origin twice: on the stale connection, then on a fresh one.
        assert origin.requests.count(b"GET /second HTTP/1.1") == 2
        assert origin.connections == 2


def test_stale_keepalive_connection_is_never_retried_for_post(
    forward_to: Callable[..., str],
) -> None:
    with raw_origin(_answer_once_then_drop) as origin:
        proxy = forward_to(origin.url)
        with httpx.Client() as client:
            assert client.get(f"{proxy}/first").text == "ok"
            r = client.post(f"{proxy}/order", content=b"")  # even without a body
        assert r.status_code == 502
        time.sleep(0.2)
        assert origin.requests.count(b"POST /order HTTP/1.1") == 1


def _answer_before_the_body(conn: socket.socket, origin: RawOrigin) -> None:
    # Answers a POST as soon as its head is in (a redirect, not reading the form), then drains
    # the body its Content-Length announced, as an HTTP/1.1 server must before it reads the
    # next request on the connection (or hangs up after a second of silence).
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        line, _, fields = head.partition(b"\r\n")
        origin.requests.append(line)
        if line.startswith(b"POST "):
            conn.sendall(b"HTTP/1.1 303 See Other\r\nlocation: /next\r\n"
                         b"content-length: 0\r\n\r\n")
            length = next(int(f.split(b":")[1]) for f in fields.split(b"\r\n")
                          if f.lower().startswith(b"content-length:"))
            conn.settimeout(1.0)
            try:
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
            except TimeoutError:
                return
            finally:
                origin.bodies.append(buf[:length])
            conn.settimeout(None)
            buf = buf[length:]
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def test_a_connection_whose_request_body_was_cut_short_is_not_reused(
    forward_to: Callable[..., str],
) -> None:
    def slow_body() -> Iterator[bytes]:
        for _ in range(8):
            time.sleep(0.05)  # the origin's early answer arrives while the body is going out
            yield b"x" * 65536

    with raw_origin(_answer_before_the_body) as origin:
        proxy = forward_to(origin.url)
        with httpx.Client() as client:
            r = client.post(f"{proxy}/bag/items", content=slow_body(),
                            headers={"content-length": str(8 * 65536)})
            assert r.status_code == 303
            nxt = client.get(f"{proxy}/next")
        assert nxt.status_code == 200 and nxt.text == "ok"
        # What the origin took for the POST's body is body, never the next request: a
        # connection whose body was cut short is closed, not handed to the next request.
        assert origin.bodies and all(set(b) <= {ord("x")} for b in origin.bodies)
        assert origin.requests.count(b"GET /next HTTP/1.1") == 1


# -- broken answers -------------------------------------------------------------------------


def _close_mid_headers(conn: socket.socket, origin: RawOrigin) -> None:
    origin.head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nContent-Le")


def test_upstream_closing_mid_headers_is_502(forward_to: Callable[..., str]) -> None:
    with raw_origin(_close_mid_headers) as origin:
        proxy = forward_to(origin.url)
        r = httpx.get(f"{proxy}/page")
    assert r.status_code == 502 and r.text == "upstream unreachable\n"


@pytest.mark.parametrize("shape", ["many", "one-long"])
def test_upstream_header_section_over_limit_is_502(
    forward_to: Callable[..., str], shape: str
) -> None:
    big = (b"".join(b"x-filler-%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
           if shape == "many" else b"x-long: " + b"v" * 40_000 + b"\r\n")

    def handle(conn: socket.socket, origin: RawOrigin) -> None:
        origin.head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + big + b"content-length: 2\r\n\r\nok")
        time.sleep(0.5)

    with raw_origin(handle) as origin:
        proxy = forward_to(origin.url, max_header_bytes=16 * 1024)
        r = httpx.get(f"{proxy}/page")
    assert r.status_code == 502 and r.text == "upstream header section too large\n"


def test_upstream_interim_100_continue_is_skipped(forward_to: Callable[..., str]) -> None:
    def handle(conn: socket.socket, origin: RawOrigin) -> None:
        head = origin.head(conn)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert b"expect" not in head.lower()
        time.sleep(0.05)
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
                     b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone")

    with raw_origin(handle) as origin:
        proxy = forward_to(origin.url)
        host, port = _addr(proxy)
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"POST /order HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")  # from the proxy itself
            s.sendall(b"hello")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 201 ") and data.endswith(b"\r\n\r\ndone")
    assert b"103" not in data and b"link:" not in data


# -- HTTP/1.0 and close-delimited answers ---------------------------------------------------


def test_http10_upstream_close_delimited_and_with_length(forward_to: Callable[..., str]) -> None:
    body = bytes(range(256)) * 400

    def handle(conn: socket.socket, origin: RawOrigin) -> None:
        head = origin.head(conn)
        if b" /length " in head:
            conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        else:  # no length: the body ends when the connection does
            conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n")
            for i in range(0, len(body), 7000):
                conn.sendall(body[i:i + 7000])
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.2)

    with raw_origin(handle) as origin:
        proxy = forward_to(origin.url)
        with httpx.Client() as client:
            r = client.get(f"{proxy}/stream")
            assert r.status_code == 200 and r.content == body
            assert client.get(f"{proxy}/length").text == "hello"
            assert client.get(f"{proxy}/length").text == "hello"
        # HTTP/1.0 without keep-alive: every request opened its own connection.
        assert origin.connections == 3


def test_upstream_dying_mid_body_closes_client_connection(
    forward_to: Callable[..., str],
) -> None:
    def handle(conn: socket.socket, origin: RawOrigin) -> None:
        origin.head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 5000)

    with raw_origin(handle) as origin:
        proxy = forward_to(origin.url)
        with socket.create_connection(_addr(proxy), timeout=5) as s:
            s.sendall(b"GET /a HTTP/1.1\r\nHost: s\r\n\r\n")  # keep-alive asked for
            data = b""
            while chunk := s.recv(65536):  # ends: the proxy closed the connection
                data += chunk
    assert data.startswith(b"HTTP/1.1 200") and len(data.partition(b"\r\n\r\n")[2]) == 5000


# -- timeouts and the connection limit ------------------------------------------------------


def test_connect_timeout_is_504(forward_to: Callable[..., str]) -> None:
    # A listener that never accepts, its queue filled: the next handshake is never answered.
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(server.getsockname())
            fillers.append(s)
        time.sleep(0.1)
        proxy = forward_to(f"http://127.0.0.1:{server.getsockname()[1]}",
                             timeouts=Timeouts(connect=0.3, read=5, pool=1))
        # Without the connect timeout the handshake would hang past the client's 10 s (an
        # httpx.ReadTimeout here), as nothing ever accepts it.
        r = httpx.get(f"{proxy}/a", timeout=10)
        assert r.status_code == 504 and r.text == "upstream timed out\n"
    finally:
        for s in fillers:
            s.close()
        server.close()


def _answer_once_then_stall(conn: socket.socket, origin: RawOrigin) -> None:
    # Answers the first request; reads the next one on the same connection and never answers.
    if origin.head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    origin.head(conn)
    origin.stop.wait(10)


def test_read_deadline_holds_on_a_reused_connection(forward_to: Callable[..., str]) -> None:
    # The read deadline's timer belongs to the connection and outlives an exchange: the
    # second exchange on the kept-alive connection still ends in a 504, not a hang.
    with raw_origin(_answer_once_then_stall) as origin:
        proxy = forward_to(origin.url, timeouts=Timeouts(connect=1, read=0.5, pool=1))
        with httpx.Client(timeout=10) as client:
            assert client.get(f"{proxy}/first").text == "ok"
            time.sleep(0.3)  # part of a deadline passes between the two exchanges
            r = client.get(f"{proxy}/second")
        assert r.status_code == 504 and r.text == "upstream timed out\n"
        assert origin.connections == 1  # the second request went on the reused connection
        assert origin.requests == [b"GET /first HTTP/1.1", b"GET /second HTTP/1.1"]


def _slow_keepalive(conn: socket.socket, origin: RawOrigin) -> None:
    while origin.head(conn):
        time.sleep(0.2)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def test_connection_limit_is_never_exceeded(forward_to: Callable[..., str]) -> None:
    with raw_origin(_slow_keepalive) as origin:
        proxy = forward_to(origin.url, pool_size=2,
                           timeouts=Timeouts(connect=1, read=5, pool=5))
        results: list[str] = []

        def hit() -> None:
            results.append(httpx.get(f"{proxy}/a", timeout=10).text)

        threads = [threading.Thread(target=hit) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The four beyond the limit waited for one of the two pooled connections.
        assert results == ["ok"] * 6
        assert origin.connections == 2 and len(origin.requests) == 6


# -- back-pressure: a slow client downloading 50 MB -----------------------------------------


def test_slow_client_50mb_download_keeps_proxy_buffer_bounded(
    forward_to: Callable[..., str],
) -> None:
    total = 50 * 1024 * 1024
    block = b"y" * 65536
    sent = [0]

    def handle(conn: socket.socket, origin: RawOrigin) -> None:
        origin.head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
        while sent[0] < total:
            conn.sendall(block)
            sent[0] += len(block)

    with raw_origin(handle) as origin:
        proxy = forward_to(origin.url)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.settimeout(30)
            s.connect(_addr(proxy))
            s.sendall(b"GET /big HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
            received = len(s.recv(65536))
            # The client stops reading: the origin may only get as far as the socket buffers
            # plus the proxy's own bounded buffer allow.
            last, still = -1, time.monotonic()
            while time.monotonic() - still < 1.0:
                if sent[0] != last:
                    last, still = sent[0], time.monotonic()
                time.sleep(0.05)
            in_flight = sent[0] - received
            assert in_flight < 20 * 1024 * 1024, in_flight
            assert sent[0] < total
            while chunk := s.recv(1 << 20):
                received += len(chunk)
    assert received > total  # the whole body (plus the head) arrived once the client read on


# -- the parser path, driven with arbitrary splits -------------------------------------------


class _FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.paused = False
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


def _cuts(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(marks, marks[1:], strict=False) if b > a]


_NAMES = st.sampled_from([b"X-A", b"x-b", b"Set-Cookie", b"ETag", b"Vary", b"x-c"])
_VALUES = st.binary(min_size=0, max_size=40).map(
    lambda b: bytes(c for c in b if 0x21 <= c < 0x7f) or b"v")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=8),
    body_parts=st.lists(st.binary(min_size=1, max_size=3000), max_size=6),
    chunked=st.booleans(),
    interim=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=12),
)
def test_response_parser_reassembles_any_split(
    headers: list[tuple[bytes, bytes]], body_parts: list[bytes], chunked: bool,
    interim: bool, cuts: list[int],
) -> None:
    body = b"".join(body_parts)
    head = b"HTTP/1.1 200 OK\r\n"
    for name, value in headers:
        head += name + b": " + value + b"\r\n"
    head += b"Connection: keep-alive, X-Hop\r\nX-Hop: gone\r\nKeep-Alive: timeout=5\r\n"
    if chunked:
        wire = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in body_parts) + b"0\r\n\r\n"
        head += b"Transfer-Encoding: chunked\r\n"
    else:
        wire = body
        head += b"Content-Length: %d\r\n" % len(body)
    response = (b"HTTP/1.1 100 Continue\r\n\r\n" if interim else b"") + head + b"\r\n" + wire

    async def run() -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        pool = UpstreamPool("127.0.0.1", 1)
        pool.loop = asyncio.get_running_loop()
        conn = UpstreamConnection(pool)
        transport = _FakeTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.start(b"GET / HTTP/1.1\r\n\r\n", False)
        got = b""
        for piece in _cuts(response, cuts):
            conn.data_received(piece)
            if conn.head_done:
                while conn.chunks:
                    got += await conn.read_chunk() or b""
                    assert not transport.paused
        await conn.read_head()
        while (chunk := await conn.read_chunk()) is not None:
            got += chunk
        done = conn.done and conn.keep_alive
        conn.in_use = False
        if conn.timer is not None:
            conn.timer.cancel()
        return conn.status, conn.headers, got, done

    status, got_headers, got_body, reusable = asyncio.run(run())
    assert status == 200 and got_body == body and reusable
    expected = [(n.lower(), v) for n, v in headers]
    if not chunked:
        expected.append((b"content-length", str(len(body)).encode()))
    assert got_headers == expected


def test_response_buffer_pauses_reading_above_high_water() -> None:
    async def run() -> tuple[bool, bool]:
        pool = UpstreamPool("127.0.0.1", 1)
        pool.loop = asyncio.get_running_loop()
        conn = UpstreamConnection(pool)
        transport = _FakeTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.start(b"GET / HTTP/1.1\r\n\r\n", False)
        size = 4 * HIGH_WATER
        conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            conn.data_received(b"z" * 65536)
        paused = transport.paused
        await conn.read_chunk()
        resumed = not transport.paused
        if conn.timer is not None:
            conn.timer.cancel()
        return paused, resumed

    assert asyncio.run(run()) == (True, True)


# -- WebSocket upgrade: a byte tunnel ---------------------------------------------------------


def test_upgrade_is_a_byte_tunnel_with_the_request_head_rewritten(
    forward_to: Callable[..., str],
) -> None:
    heads: list[bytes] = []

    def handle(conn: socket.socket, origin: RawOrigin) -> None:
        head, early = _read_head(conn)
        heads.append(head)
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
        data = early
        while len(data) < 6:
            data += conn.recv(65536)
        conn.sendall(b"pong:" + data)  # any bytes: the proxy does not parse frames
        time.sleep(0.3)

    with raw_origin(handle) as origin:
        proxy = forward_to(origin.url)
        with socket.create_connection(_addr(proxy), timeout=5) as s:
            s.sendall(b"GET /ws?room=1 HTTP/1.1\r\nHost: shop\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\nX-Intent-Class: decisive-buyer\r\n"
                      b"Keep-Alive: 5\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            assert data.startswith(b"HTTP/1.1 101 Switching Protocols")
            s.sendall(b"\x00\xffping")
            rest = data.partition(b"\r\n\r\n")[2]
            while len(rest) < 11:
                rest += s.recv(65536)
    assert rest == b"pong:\x00\xffping"
    lines = heads[0].lower().split(b"\r\n")
    assert lines[0] == b"get /ws?room=1 http/1.1"
    assert b"x-intent-class: decisive-buyer" not in lines and b"keep-alive: 5" not in lines
    assert b"upgrade: websocket" in lines and b"connection: upgrade" in lines
    assert b"sec-websocket-key: dghlihnhbxbszq==" in lines
    assert b"x-forwarded-for: 127.0.0.1" in lines and b"host: shop" in lines


def test_upgrade_on_the_admin_listener_is_refused(
    origin: str, make_split_proxy: Callable[..., tuple[str, str]],
) -> None:
    public, admin = make_split_proxy(origin)
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(_addr(admin), timeout=5) as s:
        s.sendall(upgrade)
        assert s.recv(65536).startswith(b"HTTP/1.1 403")
    with socket.create_connection(_addr(public), timeout=5) as s:
        s.sendall(upgrade)
        assert s.recv(65536).startswith(b"HTTP/1.1 101")  # tunnelled to the origin
