"""Forwarding, end to end, in front of the purpose-built origin in ``origin.py``.

Most cases run ``ForwardApp`` alone (no classification) under our hardened uvicorn stack: one
test per forwarding point of issue 2, item 4. The last section runs the whole proxy
(``create_app``, classification on) for what only it does: the engine in the header walk, the
identify header taken out, the settings reaching the forwarder, WebSocket upgrades through
``ProxyApp``. The server's refusals (400/408/414/431) live in ``tests/proxy/test_server.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from proxy.forward import ForwardApp, Timeouts
from proxy.server import HardenedHttpToolsProtocol, ServerLimits, uvicorn_kwargs
from tests.e2e.conftest import run_proxy
from tests.e2e.origin import COOKIES, GZ_BODY, GZ_TEXT, Gate
from tests.servers import free_port, serve_in_thread

BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
    "accept": "text/html", "accept-language": "en",
}


class _Served:
    """ForwardApp plus the lifespan the lead's app gives it: startup() then aclose()."""

    def __init__(self, forward: ForwardApp) -> None:
        self.forward = forward
        self.ws_tunnel = self._tunnel  # as ProxyApp: upgrades become a byte tunnel

    def _tunnel(self, *args: Any) -> None:
        self.forward.tunnel(*args[:7])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.forward(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.forward.startup()
                await send({"type": "lifespan.startup.complete"})
            else:
                await self.forward.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


@pytest.fixture(scope="module")
def upstream(origin: str) -> str:
    return origin


@contextmanager
def _forward_servers() -> Iterator[Callable[..., str]]:
    saved = HardenedHttpToolsProtocol.limits
    with ExitStack() as stack:
        def factory(target: str, **kwargs: Any) -> str:
            forward = ForwardApp(target, **kwargs)
            config = uvicorn_kwargs(ServerLimits())
            return stack.enter_context(serve_in_thread(_Served(forward), **config))
        yield factory
    HardenedHttpToolsProtocol.limits = saved


@pytest.fixture
def make_forward() -> Iterator[Callable[..., str]]:
    """``make_forward(upstream, **ForwardApp kwargs)`` -> base URL of a served ForwardApp."""
    with _forward_servers() as factory:
        yield factory


@pytest.fixture(scope="module")
def proxy(upstream: str) -> Iterator[str]:
    """ForwardApp with default settings, shared by the module (no test changes its state)."""
    with _forward_servers() as factory:
        yield factory(upstream)


@pytest.fixture(scope="module")
def classifying(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole proxy (classification on, headers exposed), shared by the module: each test
    is a new shopper (no cookies carried between tests)."""
    with run_proxy(upstream, Path(tmp_path_factory.mktemp("classifying")),
                   expose_headers=True) as url:
        yield url


def _addr(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _raw(url: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes (the last request should say ``Connection: close``), read to EOF."""
    with socket.create_connection(_addr(url), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def _split_head(response: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def _headers(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k == name]


def _gate() -> tuple[str, threading.Event]:
    name = uuid.uuid4().hex
    return name, Gate.get(name)


# -- methods, path and query ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"])
def test_forward_passes_every_method(proxy: str, method: str) -> None:
    r = httpx.request(method, f"{proxy}/echo")
    assert r.status_code == 200 and r.json()["method"] == method


def test_forward_keeps_raw_path_and_query_byte_for_byte(proxy: str) -> None:
    # Unicode arrives percent-encoded (httptools refuses raw non-ASCII bytes in a target).
    target = (b"/echo/caf%C3%A9%2Fmug/a%20b;v=1?a=1&a=2&q=%E2%9C%93+x&sp=a%20b&e=&flag"
              b"&A=%e2%9c%93&amp=%26&semi=a;b")
    data = _raw(proxy, b"GET " + target + b" HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
    echo = orjson.loads(_split_head(data)[1])
    raw_path, _, query = target.partition(b"?")
    assert echo["raw_path"].encode("latin-1") == raw_path
    assert echo["query"].encode("latin-1") == query


def test_forward_prefixes_upstream_base_path_once(
    upstream: str, make_forward: Callable[..., str]
) -> None:
    proxy = make_forward(upstream + "/echo/")
    echo = httpx.get(f"{proxy}/products/mug?x=1").json()
    assert echo["raw_path"] == "/echo/products/mug" and echo["query"] == "x=1"


# -- streaming ------------------------------------------------------------------------------


def test_forward_streams_large_upload_with_content_length(proxy: str) -> None:
    # The origin must see the first 64 KiB before the rest is even sent: a proxy that read the
    # body whole would stall here until the gate's deadline.
    name, first_chunk_seen = _gate()
    payload = hashlib.sha256(b"seed").digest() * (5 * 1024 * 1024 // 32)
    head = (b"POST /upload?gate=%s HTTP/1.1\r\nHost: shop\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (name.encode(), len(payload)))
    with socket.create_connection(_addr(proxy), timeout=10) as s:
        s.sendall(head + payload[:65536])
        assert first_chunk_seen.wait(5), "origin saw nothing before the body was complete"
        s.sendall(payload[65536:])
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200")
    assert orjson.loads(_split_head(response)[1])["size"] == len(payload)


def test_forward_streams_chunked_upload_intact(proxy: str) -> None:
    name, first_chunk_seen = _gate()
    parts = [bytes([i]) * 300_000 for i in range(17)]

    def body() -> Iterator[bytes]:
        yield parts[0]
        assert first_chunk_seen.wait(5)
        yield from parts[1:]

    r = httpx.post(f"{proxy}/upload?gate={name}", content=body(), timeout=20)
    assert r.json()["size"] == sum(map(len, parts))
    whole = b"".join(parts)
    echo = httpx.post(f"{proxy}/echo", content=iter(parts), timeout=20).json()
    assert echo["body_size"] == len(whole)
    assert echo["body_sha256"] == hashlib.sha256(whole).hexdigest()


def test_forward_streams_download_before_upstream_finishes(proxy: str) -> None:
    # The origin sends part0 and then waits until the test has read it.
    name, first_part_read = _gate()
    with httpx.stream("GET", f"{proxy}/stream?gate={name}&n=4", timeout=5) as r:
        chunks = r.iter_raw()
        assert next(chunks) == b"part0\n"
        first_part_read.set()
        rest = b"".join(chunks)
    assert rest == b"part1\npart2\npart3\n"


def test_forward_stops_reading_upstream_after_client_leaves(proxy: str) -> None:
    name, origin_saw_disconnect = _gate()
    with httpx.stream("GET", f"{proxy}/forever?gate={name}", timeout=5) as r:
        assert next(r.iter_raw()).startswith(b"tick")
    assert origin_saw_disconnect.wait(5)
    assert httpx.get(f"{proxy}/echo").status_code == 200


# -- bytes and headers as sent --------------------------------------------------------------


def test_forward_passes_gzip_bytes_untouched(proxy: str) -> None:
    with httpx.stream("GET", f"{proxy}/gzip", headers={"accept-encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-length"] == str(len(GZ_BODY))
    assert raw == GZ_BODY and gzip.decompress(raw) == GZ_TEXT


def test_forward_keeps_each_set_cookie_header_separate(proxy: str) -> None:
    lines, _ = _split_head(_raw(proxy, b"GET /cookies HTTP/1.1\r\nHost: s\r\n"
                                       b"Connection: close\r\n\r\n"))
    assert [ln.split(b": ", 1)[1] for ln in lines if ln.lower().startswith(b"set-cookie:")] \
        == list(COOKIES)


def test_forward_joins_multiple_cookie_headers(proxy: str) -> None:
    data = _raw(proxy, b"GET /echo HTTP/1.1\r\nHost: s\r\nCookie: a=1\r\nCookie: b=2; c=3\r\n"
                       b"Connection: close\r\n\r\n")
    assert _headers(orjson.loads(_split_head(data)[1]), "cookie") == ["a=1; b=2; c=3"]


def test_forward_adds_no_headers_of_its_own(proxy: str) -> None:
    data = _raw(proxy, b"GET /echo HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
    names = sorted(k for k, _ in orjson.loads(_split_head(data)[1])["headers"])
    assert names == ["host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]


def test_forward_drops_hop_by_hop_request_headers(proxy: str) -> None:
    data = _raw(proxy, b"GET /echo HTTP/1.1\r\nHost: s\r\nConnection: close, X-Drop-Me\r\n"
                       b"X-Drop-Me: 1\r\nKeep-Alive: timeout=1\r\nTE: trailers\r\n"
                       b"Trailer: x-sum\r\nProxy-Authorization: Basic eA==\r\n"
                       b"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Keep: 1\r\n\r\n")
    names = {k for k, _ in orjson.loads(_split_head(data)[1])["headers"]}
    assert names.isdisjoint({"connection", "x-drop-me", "keep-alive", "te", "trailer",
                             "proxy-authorization", "proxy-connection", "upgrade"})
    assert "x-keep" in names


def test_forward_drops_hop_by_hop_response_headers(proxy: str) -> None:
    lines, body = _split_head(_raw(proxy, b"GET /hop HTTP/1.1\r\nHost: s\r\n"
                                          b"Connection: close\r\n\r\n"))
    names = {ln.split(b":", 1)[0].lower() for ln in lines[1:]}
    assert names.isdisjoint({b"x-secret-hop", b"keep-alive", b"proxy-authenticate",
                             b"trailer", b"upgrade"})
    assert b"x-kept" in names and body == b"hop"


def test_forward_drops_expect_after_answering_100_continue(proxy: str) -> None:
    with socket.create_connection(_addr(proxy), timeout=5) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"hello")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    echo = orjson.loads(_split_head(data)[1])
    assert echo["body_text"] == "hello" and _headers(echo, "expect") == []


# -- forwarding headers and Host ------------------------------------------------------------


def test_forward_sets_forwarding_headers_and_preserves_host(proxy: str) -> None:
    echo = httpx.get(f"{proxy}/echo", headers={"host": "shop.example"}).json()
    assert _headers(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["http"]
    assert _headers(echo, "x-forwarded-host") == ["shop.example"]
    assert _headers(echo, "host") == ["shop.example"]


def test_forward_sends_upstream_host_when_not_preserving(
    upstream: str, make_forward: Callable[..., str]
) -> None:
    proxy = make_forward(upstream, preserve_host=False)
    echo = httpx.get(f"{proxy}/echo", headers={"host": "shop.example"}).json()
    assert _headers(echo, "host") == [upstream.removeprefix("http://")]
    assert _headers(echo, "x-forwarded-host") == ["shop.example"]


def test_forward_drops_spoofed_forwarding_headers_from_untrusted_client(proxy: str) -> None:
    echo = httpx.get(f"{proxy}/echo", headers={
        "x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "https", "x-forwarded-host": "evil",
        "forwarded": "for=6.6.6.6;proto=https", "x-real-ip": "6.6.6.6",
    }).json()
    assert _headers(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["http"]
    assert _headers(echo, "x-forwarded-host") == [_addr(proxy)[0] + f":{_addr(proxy)[1]}"]
    assert _headers(echo, "forwarded") == [] and _headers(echo, "x-real-ip") == []


def test_forward_extends_forwarding_headers_from_trusted_hop(
    upstream: str, make_forward: Callable[..., str]
) -> None:
    proxy = make_forward(upstream, trusted_hops=frozenset({"127.0.0.1"}))
    echo = httpx.get(f"{proxy}/echo", headers={
        "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https",
        "x-forwarded-host": "shop.example", "forwarded": "for=203.0.113.9",
    }).json()
    assert _headers(echo, "x-forwarded-for") == ["203.0.113.9, 127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["https"]
    assert _headers(echo, "x-forwarded-host") == ["shop.example"]
    assert _headers(echo, "forwarded") == ["for=203.0.113.9"]


def test_forward_keeps_no_cookie_jar_between_shoppers(proxy: str) -> None:
    with httpx.Client() as first_shopper:
        assert len(first_shopper.get(f"{proxy}/cookies").headers.get_list("set-cookie")) == 3
    echo = httpx.get(f"{proxy}/echo").json()  # another shopper, same pooled upstream client
    assert _headers(echo, "cookie") == []


# -- status codes and bodies ----------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_forward_returns_redirects_unfollowed(proxy: str, code: int) -> None:
    r = httpx.get(f"{proxy}/redirect?code={code}&to=/elsewhere", follow_redirects=False)
    assert r.status_code == code and r.headers["location"] == "/elsewhere"
    assert r.content == b"moved"


def test_forward_head_keeps_length_and_sends_no_body(proxy: str) -> None:
    # Pipelined on one connection: a stray body after HEAD would corrupt the second response.
    data = _raw(proxy, b"HEAD /gzip HTTP/1.1\r\nHost: s\r\n\r\n"
                       b"GET /redirect HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
    first, rest = data.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200") and b"content-length: %d" % len(GZ_BODY) in first
    assert rest.startswith(b"HTTP/1.1 302") and rest.endswith(b"moved")


@pytest.mark.parametrize("code", [204, 304])
def test_forward_no_body_statuses_send_no_body(proxy: str, code: int) -> None:
    data = _raw(proxy, b"GET /status/%d HTTP/1.1\r\nHost: s\r\n\r\n"
                       b"GET /redirect HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n" % code)
    first, rest = data.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 %d" % code)
    assert b"transfer-encoding" not in first.lower()
    assert rest.startswith(b"HTTP/1.1 302") and rest.endswith(b"moved")


# -- upstream failures ----------------------------------------------------------------------


def test_forward_refused_upstream_is_502(make_forward: Callable[..., str]) -> None:
    proxy = make_forward(f"http://127.0.0.1:{free_port()}")
    r = httpx.get(f"{proxy}/echo")
    assert r.status_code == 502 and r.text == "upstream unreachable\n"


@contextmanager
def _raw_upstream(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A bare TCP origin: ``handle(conn)`` runs in a thread for each accepted connection."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # linger 0: RST instead of FIN


def test_forward_reset_upstream_is_502(make_forward: Callable[..., str]) -> None:
    with _raw_upstream(_reset) as origin:
        proxy = make_forward(origin)
        r = httpx.get(f"{proxy}/echo")
    assert r.status_code == 502 and r.text == "upstream unreachable\n"


def _one_answer_per_connection(conn: socket.socket) -> None:
    # Answers the first request, then drops the connection on the next one without a word:
    # what a keep-alive origin does when its idle timer fires just as we reuse the connection.
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        conn.recv(65536)


def test_forward_retries_idempotent_request_on_stale_pooled_connection(
    make_forward: Callable[..., str],
) -> None:
    with _raw_upstream(_one_answer_per_connection) as origin:
        proxy = make_forward(origin)
        with httpx.Client() as client:
            assert [client.get(f"{proxy}/a").text for _ in range(3)] == ["ok"] * 3
            # A body might have been consumed: never replayed, the client hears 502.
            r = client.post(f"{proxy}/a", content=b"x")
            assert r.status_code == 502


def test_forward_read_timeout_is_504_and_others_unaffected(
    upstream: str, make_forward: Callable[..., str]
) -> None:
    proxy = make_forward(upstream, timeouts=Timeouts(connect=1, read=0.3, pool=1))
    name, release = _gate()
    try:
        r = httpx.get(f"{proxy}/hold?gate={name}", timeout=10)
        # The 504 came while the origin was still holding its answer: the proxy did not wait.
        assert not release.is_set()
        assert r.status_code == 504 and r.text == "upstream timed out\n"
    finally:
        release.set()
    assert httpx.get(f"{proxy}/echo").status_code == 200


def test_forward_pool_timeout_is_504(upstream: str, make_forward: Callable[..., str]) -> None:
    proxy = make_forward(upstream, pool_size=1, timeouts=Timeouts(connect=0.2, read=5, pool=0.2))
    name, release = _gate()
    try:
        with httpx.stream("GET", f"{proxy}/stream?gate={name}", timeout=5) as held:
            parts = held.iter_raw()  # kept: a dropped iterator closes the stream
            assert next(parts) == b"part0\n"  # the only pooled connection is busy
            r = httpx.get(f"{proxy}/echo", timeout=5)
            assert r.status_code == 504 and r.text == "upstream timed out\n"
            release.set()
            assert b"".join(parts) == b"part1\npart2\n"
    finally:
        release.set()
    assert httpx.get(f"{proxy}/echo").status_code == 200


def test_forward_upstream_dying_mid_body_cuts_response_and_server_lives(proxy: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{proxy}/die", timeout=5)
    assert httpx.get(f"{proxy}/echo").status_code == 200


# -- request body limit ---------------------------------------------------------------------


def test_forward_rejects_declared_oversized_body_before_upstream(
    upstream: str, make_forward: Callable[..., str]
) -> None:
    proxy = make_forward(upstream, max_body_bytes=1000)
    name, upstream_saw_body = _gate()
    # Only the head is sent: the 413 must come from the declared length alone.
    with socket.create_connection(_addr(proxy), timeout=5) as s:
        s.sendall(b"POST /upload?gate=%s HTTP/1.1\r\nHost: s\r\nContent-Length: 1001\r\n\r\n"
                  % name.encode())
        data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 413") and b"request body too large" in data
    assert b"connection: close" in data.lower()
    assert not upstream_saw_body.is_set()
    assert httpx.post(f"{proxy}/upload", content=b"x" * 1000).json()["size"] == 1000


def test_forward_rejects_chunked_oversized_body_while_streaming(
    upstream: str, make_forward: Callable[..., str]
) -> None:
    proxy = make_forward(upstream, max_body_bytes=1000)
    r = httpx.post(f"{proxy}/echo", content=iter([b"x" * 600, b"x" * 600]))
    assert r.status_code == 413 and r.text == "request body too large\n"
    echo = httpx.post(f"{proxy}/echo", content=iter([b"x" * 500, b"x" * 500])).json()
    assert echo["body_size"] == 1000


# -- websocket ------------------------------------------------------------------------------


def test_forward_websocket_passthrough(proxy: str) -> None:
    async def go() -> tuple[Any, ...]:
        async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{proxy}/ws", protocols=("chat.v1",)
        ) as ws:
            await ws.send_str("hi")
            text = (await ws.receive()).data
            await ws.send_bytes(b"\x00\x01")
            data = (await ws.receive()).data
            await ws.send_str("close")
            closing = await ws.receive()
            return ws.protocol, text, data, closing.type, ws.close_code

    protocol, text, data, closing, code = asyncio.run(go())
    assert (protocol, text, data) == ("chat.v1", "echo:hi", b"echo:\x00\x01")
    assert closing == aiohttp.WSMsgType.CLOSE and code == 4001


def test_forward_websocket_refused_upstream_closes_handshake(
    make_forward: Callable[..., str],
) -> None:
    proxy = make_forward(f"http://127.0.0.1:{free_port()}")

    async def go() -> int:
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await s.ws_connect(f"{proxy}/ws")
            return info.value.status

    assert asyncio.run(go()) == 502  # the tunnel answers for an origin it cannot reach


# -- through the whole proxy (classification on) --------------------------------------------


def test_proxy_classified_request_keeps_raw_path_and_query(classifying: str) -> None:
    # A product page (a rule matched, an event was made) still reaches the origin byte for byte.
    target = "/products/caf%C3%A9%2Fmug?a=1&a=2&q=%E2%9C%93+x&u=%C3%A9&empty=&flag"
    echo = httpx.get(f"{classifying}{target}", headers=BROWSER).json()
    assert echo["raw_path"] == "/products/caf%C3%A9%2Fmug"
    assert echo["query"] == "a=1&a=2&q=%E2%9C%93+x&u=%C3%A9&empty=&flag"
    assert _headers(echo, "x-intent-class")  # classified on its way


def test_proxy_keeps_origin_set_cookies_separate_beside_its_own(classifying: str) -> None:
    r = httpx.get(f"{classifying}/cookies", headers=BROWSER)
    cookies = r.headers.get_list("set-cookie")
    for cookie in COOKIES:
        assert cookie.decode() in cookies
    assert {c.split("=", 1)[0] for c in cookies} >= {"ig_sid", "ig_did"}


def test_proxy_drops_client_intent_headers(classifying: str) -> None:
    echo = httpx.get(f"{classifying}/echo", headers={
        "x-intent-class": "decisive-buyer", "X-Intent-Identify": "mallory", **BROWSER,
    }).json()
    assert "decisive-buyer" not in [v for _, v in echo["headers"]]
    assert _headers(echo, "x-intent-identify") == []
    assert len(_headers(echo, "x-intent-class")) == 1  # ours, and only ours


def test_proxy_identify_header_is_stripped_from_response(classifying: str) -> None:
    r = httpx.get(f"{classifying}/identify?user=alice", headers=BROWSER)
    assert r.status_code == 200 and r.text == "hello"
    assert "x-intent-identify" not in r.headers
    assert any(c.startswith("ig_pid=") for c in r.headers.get_list("set-cookie"))


def test_proxy_trusted_hop_setting_reaches_forwarder_and_engine(
    upstream: str, make_proxy: Callable[..., str]
) -> None:
    proxy = make_proxy(upstream, trusted_hops=("127.0.0.1",))
    r = httpx.get(f"{proxy}/echo", headers={"x-forwarded-for": "203.0.113.9",
                                            "x-forwarded-proto": "https", **BROWSER})
    echo = r.json()
    assert _headers(echo, "x-forwarded-for") == ["203.0.113.9, 127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["https"]
    # The shopper came over HTTPS per the trusted hop: our cookies are Secure.
    cookies = r.headers.get_list("set-cookie")
    assert cookies and all(c.endswith("; Secure") for c in cookies)


def test_proxy_websocket_passthrough(classifying: str) -> None:
    async def go() -> tuple[str, bytes]:
        async with aiohttp.ClientSession() as s, s.ws_connect(f"{classifying}/ws") as ws:
            await ws.send_str("hi")
            text = (await ws.receive()).data
            await ws.send_bytes(b"\x01\x02")
            data = (await ws.receive()).data
            return text, data

    text, data = asyncio.run(go())
    assert text == "echo:hi" and data == b"echo:\x01\x02"
