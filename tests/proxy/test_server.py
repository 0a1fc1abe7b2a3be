"""The hardened uvicorn stack (proxy/server.py), spoken to with raw sockets: limits, deadlines
and the request shapes refused before the app (and so the upstream) ever sees them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httptools
import httpx
import pytest

from proxy.server import HardenedHttpToolsProtocol, ServerLimits, uvicorn_kwargs
from tests.servers import read_body, serve_in_thread


class _CountingApp:
    """Answers ``ok`` (``/sleep`` after 0.8 s, ``/hold`` once ``release`` is set); counts calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        import asyncio

        self.calls.append(scope["path"])
        size = len(await read_body(receive))
        if scope["path"] == "/sleep":
            await asyncio.sleep(0.8)
        elif scope["path"] == "/hold":
            await asyncio.to_thread(self.release.wait, 10)
        body = b"ok %d" % size
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[str, _CountingApp]]]:
    """``serve(**ServerLimits fields)`` -> (base URL, app) under ``uvicorn_kwargs``."""
    saved = HardenedHttpToolsProtocol.limits
    with ExitStack() as stack:
        def factory(**limits: Any) -> tuple[str, _CountingApp]:
            app = _CountingApp()
            stack.callback(app.release.set)
            url = stack.enter_context(
                serve_in_thread(app, **uvicorn_kwargs(ServerLimits(**limits))))
            return url, app
        yield factory
    HardenedHttpToolsProtocol.limits = saved


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _exchange(url: str, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes (or a response with a length is done)."""
    with _connect(url) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before we finished sending
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out


GOOD = b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"


def test_uvicorn_kwargs_select_the_hardened_httptools_stack() -> None:
    saved = HardenedHttpToolsProtocol.limits
    try:
        limits = ServerLimits(limit_concurrency=7, keepalive_timeout=3, graceful_timeout=4)
        kwargs = uvicorn_kwargs(limits)
        assert kwargs["http"] is HardenedHttpToolsProtocol
        assert HardenedHttpToolsProtocol.limits is limits
    finally:
        HardenedHttpToolsProtocol.limits = saved
    assert kwargs["loop"] == "uvloop" and kwargs["lifespan"] == "on"
    assert kwargs["proxy_headers"] is False and kwargs["server_header"] is False
    assert (kwargs["limit_concurrency"], kwargs["timeout_keep_alive"],
            kwargs["timeout_graceful_shutdown"]) == (7, 3, 4)


def test_server_serves_keep_alive_requests_without_server_header(serve: Callable[..., Any]) -> None:
    url, app = serve()
    data = _exchange(url, b"GET /a HTTP/1.1\r\nHost: shop\r\n\r\n" + GOOD)
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.endswith(b"ok 0")
    assert b"server:" not in data.lower()
    assert app.calls == ["/a", "/"]


def test_server_accepts_header_section_just_under_the_limit(serve: Callable[..., Any]) -> None:
    url, app = serve(max_header_bytes=8192)
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 90) for i in range(70))  # ~7 KB
    data = _exchange(url, b"GET / HTTP/1.1\r\nHost: shop\r\n" + headers
                     + b"Connection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200")


def test_server_rejects_oversized_header_section_with_431(serve: Callable[..., Any]) -> None:
    url, app = serve()  # default 32 KiB
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
    data = _exchange(url, b"GET / HTTP/1.1\r\nHost: shop\r\n" + headers + b"\r\n")
    assert data.startswith(b"HTTP/1.1 431") and app.calls == []


def test_server_rejects_one_endless_header_line_with_431(serve: Callable[..., Any]) -> None:
    # httptools only reports a header once its line ends: without a raw byte count, a line that
    # never ends would be buffered for as long as the client keeps sending.
    url, app = serve(max_header_bytes=4096, max_target_bytes=1024)
    with _connect(url) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\nX-Big: ")
        sent = 0
        answer = b""
        try:
            while sent < 1_000_000 and not answer:
                s.sendall(b"a" * 8192)
                sent += 8192
                s.settimeout(0.01)
                try:
                    answer = s.recv(1000)
                except TimeoutError:
                    pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(5)
        answer = answer or s.recv(1000)
    assert answer.startswith(b"HTTP/1.1 431")
    assert sent < 100_000 and app.calls == []


def test_server_rejects_long_request_target_with_414(serve: Callable[..., Any]) -> None:
    url, app = serve()
    data = _exchange(url, b"GET /?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: shop\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 414") and app.calls == []


def test_server_cuts_slow_header_senders_with_408(serve: Callable[..., Any]) -> None:
    url, app = serve(header_timeout=0.3)
    with _connect(url) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\n")  # never finishes the header section
        data = s.recv(1000)  # the socket's 5 s timeout bounds the wait, generously
        assert s.recv(1000) == b""  # and the connection is closed
    assert data.startswith(b"HTTP/1.1 408")
    assert app.calls == []


def test_server_cuts_silent_new_connections_at_the_header_deadline(
    serve: Callable[..., Any],
) -> None:
    url, _ = serve(header_timeout=0.3)
    with _connect(url) as s:
        data = s.recv(1000)
    assert data.startswith(b"HTTP/1.1 408")


def test_server_header_deadline_spares_a_slow_response(serve: Callable[..., Any]) -> None:
    url, _ = serve(header_timeout=0.3)
    r = httpx.get(f"{url}/sleep", timeout=5)  # the app takes 0.8 s, past the header deadline
    assert r.status_code == 200 and r.text == "ok 0"


SMUGGLING_AND_HOST_SHAPES = {
    "cl-and-te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                 b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    "te-and-cl": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    "two-content-lengths": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                           b"Content-Length: 7\r\n\r\nhello",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n  folded\r\n\r\n",
    "cr-in-value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", SMUGGLING_AND_HOST_SHAPES.values(),
                         ids=SMUGGLING_AND_HOST_SHAPES.keys())
def test_server_rejects_smuggling_and_host_shapes_with_400(
    serve: Callable[..., Any], request_bytes: bytes,
) -> None:
    url, app = serve()
    data = _exchange(url, request_bytes)
    assert data.startswith(b"HTTP/1.1 400"), data[:80]
    assert b"connection: close" in data.lower()
    assert app.calls == []


def test_server_refuses_transfer_codings_other_than_chunked(serve: Callable[..., Any]) -> None:
    url, app = serve()
    data = _exchange(url, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n"
                          b"\r\n0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 501") and app.calls == []


def test_server_accepts_chunked_body_and_http10_without_host(serve: Callable[..., Any]) -> None:
    url, app = serve()
    chunked = _exchange(url, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                             b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 200") and chunked.endswith(b"ok 5")
    assert _exchange(url, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
    assert len(app.calls) == 2


@pytest.mark.parametrize("shape", ["cl-and-te", "te-and-cl", "two-content-lengths",
                                   "obs-fold", "cr-in-value", "nul-in-value"])
def test_httptools_itself_rejects_smuggling_shapes(shape: str) -> None:
    # Our protocol checks these too, but the first line of defence is the parser: if an httptools
    # upgrade starts accepting one of them, this fails and the server-side checks must be
    # re-examined (uvicorn's h11 parser, for one, accepts Content-Length + Transfer-Encoding).
    class Sink:
        def on_header(self, name: bytes, value: bytes) -> None:
            pass

    parser = httptools.HttpRequestParser(Sink())
    with pytest.raises(httptools.HttpParserError):
        parser.feed_data(SMUGGLING_AND_HOST_SHAPES[shape])


def test_httptools_alone_lets_missing_and_duplicate_host_through() -> None:
    # Why the protocol counts Host itself.
    class Sink:
        def on_header(self, name: bytes, value: bytes) -> None:
            pass

    for shape in ("no-host", "two-hosts"):
        httptools.HttpRequestParser(Sink()).feed_data(SMUGGLING_AND_HOST_SHAPES[shape])


def test_server_answers_503_beyond_the_concurrency_limit(serve: Callable[..., Any]) -> None:
    url, app = serve(limit_concurrency=2)  # uvicorn counts connections plus running tasks
    results: list[int] = []
    held = threading.Thread(
        target=lambda: results.append(httpx.get(f"{url}/hold", timeout=10).status_code))
    held.start()
    try:
        deadline = time.monotonic() + 5
        while "/hold" not in app.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert httpx.get(f"{url}/", timeout=5).status_code == 503
    finally:
        app.release.set()
        held.join(10)
    assert results == [200]
    assert httpx.get(f"{url}/", timeout=5).status_code == 200
