"""The server's short way out for the forwarder's answers (proxy.server._Cycle) and the
standalone app's direct route to the forwarder (proxy.app.ProxyApp): same bytes on the wire as
uvicorn's own path, fewer writes, and nothing else takes the short way."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from proxy.app import ProxyApp
from proxy.server import ServerLimits, _Cycle, uvicorn_kwargs
from proxy.types import BODY_FOLLOWS, TRUSTED_HEAD
from tests.servers import serve_in_thread


class _Transport:
    """Records every write; enough of a transport for FlowControl and the cycle."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _cycle(cls: type[RequestResponseCycle], method: str = "GET",
           keep_alive: bool = True) -> tuple[RequestResponseCycle, _Transport, list[int]]:
    transport = _Transport()
    done: list[int] = []
    log = logging.getLogger("test")
    cycle = cls(
        scope={"type": "http", "method": method, "path": "/", "headers": []},  # type: ignore[arg-type]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=log, access_logger=log, access_log=False, default_headers=[],
        message_event=asyncio.Event(), expect_100_continue=False, keep_alive=keep_alive,
        on_response=lambda: done.append(1),
    )
    return cycle, transport, done


def _run(cycle: RequestResponseCycle, *messages: dict[str, Any]) -> None:
    async def main() -> None:
        for m in messages:
            await cycle.send(m)  # type: ignore[arg-type]
    asyncio.run(main())


_HEADERS = [(b"content-type", b"text/html"), (b"content-length", b"5"),
            (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_trusted_head_with_body_following_goes_out_in_one_write_with_uvicorns_bytes() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": _HEADERS}
    body = {"type": "http.response.body", "body": b"hello"}
    plain, plain_t, plain_done = _cycle(RequestResponseCycle)
    _run(plain, start, body)
    fast, fast_t, fast_done = _cycle(_Cycle)
    _run(fast, {**start, TRUSTED_HEAD: True, BODY_FOLLOWS: True}, body)
    assert len(plain_t.writes) == 2 and len(fast_t.writes) == 1
    assert fast_t.writes[0] == b"".join(plain_t.writes)
    assert fast_t.writes[0].startswith(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n")
    assert fast.response_complete and fast_done == [1] and plain_done == [1]
    assert not fast_t.closed


def test_trusted_head_without_a_length_is_chunked_like_uvicorns() -> None:
    headers = [(b"content-type", b"text/plain")]
    messages = [{"type": "http.response.body", "body": b"abc", "more_body": True},
                {"type": "http.response.body", "body": b"defg", "more_body": True},
                {"type": "http.response.body", "body": b""}]
    plain, plain_t, _ = _cycle(RequestResponseCycle)
    _run(plain, {"type": "http.response.start", "status": 200, "headers": headers}, *messages)
    fast, fast_t, done = _cycle(_Cycle)
    _run(fast, {"type": "http.response.start", "status": 200, "headers": headers,
                TRUSTED_HEAD: True, BODY_FOLLOWS: True}, *messages)
    assert b"".join(fast_t.writes) == b"".join(plain_t.writes)
    assert b"transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n" in fast_t.writes[0]
    assert b"".join(fast_t.writes).endswith(b"4\r\ndefg\r\n0\r\n\r\n")
    assert done == [1]


def test_trusted_head_of_a_head_request_is_written_at_once_and_closes_when_asked() -> None:
    fast, t, done = _cycle(_Cycle, method="HEAD")
    _run(fast, {"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"99"), (b"connection", b"close")],
                TRUSTED_HEAD: True, BODY_FOLLOWS: True})
    assert len(t.writes) == 1 and t.writes[0].endswith(b"connection: close\r\n\r\n")
    _run(fast, {"type": "http.response.body", "body": b""})
    assert done == [1] and t.closed  # Connection: close honoured after the answer


def test_a_head_held_for_a_body_that_breaks_its_length_is_still_refused() -> None:
    fast, t, _ = _cycle(_Cycle)
    with pytest.raises(RuntimeError, match="longer than Content-Length"):
        _run(fast, {"type": "http.response.start", "status": 200, "headers": _HEADERS,
                    TRUSTED_HEAD: True, BODY_FOLLOWS: True},
             {"type": "http.response.body", "body": b"too long"})


def test_unmarked_answers_keep_uvicorns_header_checks() -> None:
    fast, t, _ = _cycle(_Cycle)
    with pytest.raises(RuntimeError, match="Invalid HTTP header value"):
        _run(fast, {"type": "http.response.start", "status": 200,
                    "headers": [(b"x-bad", b"a\nb")]})
    assert t.writes == []


class _TrustedApp:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200, TRUSTED_HEAD: True,
                    BODY_FOLLOWS: True,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def trusted_url() -> Iterator[str]:
    with serve_in_thread(_TrustedApp(), **uvicorn_kwargs(ServerLimits())) as url:
        yield url


def test_the_server_serves_trusted_answers_on_a_keep_alive_connection(trusted_url: str) -> None:
    host, port = trusted_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        out = b""
        for path in (b"/one", b"/two"):
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nhost: x\r\n\r\n")
            while not out.endswith(path):
                out += s.recv(65536)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert out.endswith(b"content-length: 4\r\n\r\n/two")


class _Recorder:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append(self.name)


def test_proxy_app_sends_shoppers_straight_to_the_forwarder_and_nothing_else() -> None:
    calls: list[str] = []
    engine = object()
    forward = SimpleNamespace(engine=engine, _http=_Recorder("forward", calls))
    inner = _Recorder("inner", calls)
    inner.port = 9901  # type: ignore[attr-defined]  # as AdminPortApp: the admin listener
    app = ProxyApp(SimpleNamespace(forward=forward, engine=engine), inner)  # type: ignore[arg-type]

    async def main() -> None:
        shop = ("127.0.0.1", 8080)
        for scope in (
            {"type": "http", "path": "/products/x", "server": shop},
            {"type": "http", "path": "/_intentgate/metrics", "server": shop},
            {"type": "http", "path": "/products/x", "server": ("127.0.0.1", 9901)},
            {"type": "websocket", "path": "/ws", "server": shop},
        ):
            await app(scope, None, None)  # type: ignore[arg-type]

    asyncio.run(main())
    assert calls == ["forward", "inner", "inner", "inner"]


def test_proxy_app_without_the_engine_attached_routes_everything_through_inner() -> None:
    calls: list[str] = []
    forward = SimpleNamespace(engine=None, _http=_Recorder("forward", calls))
    app = ProxyApp(SimpleNamespace(forward=forward, engine=object()),  # type: ignore[arg-type]
                   _Recorder("inner", calls))
    asyncio.run(app({"type": "http", "path": "/p", "server": None}, None, None))  # type: ignore[arg-type]
    assert calls == ["inner"]


def _get(s: socket.socket, path: bytes) -> bytes:
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nhost: x\r\n\r\n")
    out = b""
    while not out.endswith(path):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def test_keep_alive_deadline_closes_an_idle_connection_and_spares_a_busy_one() -> None:
    import time

    kwargs = uvicorn_kwargs(ServerLimits(keepalive_timeout=0.6))
    with serve_in_thread(_TrustedApp(), **kwargs) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as busy, \
                socket.create_connection((host, int(port)), timeout=5) as idle:
            _get(idle, b"/idle")
            # Requests 0.25 s apart for well past the deadline: the deadline counts from
            # each response, so the busy connection stays open throughout.
            for i in range(8):
                assert _get(busy, b"/busy%d" % i).endswith(b"/busy%d" % i)
                time.sleep(0.25)
            assert idle.recv(1) == b""  # the idle one was closed by the deadline
