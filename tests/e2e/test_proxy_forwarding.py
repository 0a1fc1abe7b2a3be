"""Forwarding through the full proxy (classification on) against a real origin on loopback."""

from __future__ import annotations

import gzip
import hashlib
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.origin import GZ_BODY, GZ_TEXT

BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
    "accept": "text/html", "accept-language": "en",
}


@pytest.fixture
def proxy(origin: str, make_proxy: Callable[..., str]) -> str:
    return make_proxy(origin)


def _echo(client: httpx.Client, method: str, url: str, **kw: Any) -> dict[str, Any]:
    r = client.request(method, url, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def _headers(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k == name]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_forward_every_method(proxy: str, method: str) -> None:
    with httpx.Client() as c:
        assert _echo(c, method, f"{proxy}/echo")["method"] == method


def test_forward_head_has_no_body(proxy: str) -> None:
    r = httpx.head(f"{proxy}/echo")
    assert r.status_code == 200 and r.content == b""


def _raw(proxy: str, request: bytes, timeout: float = 5.0) -> bytes:
    host, port = proxy.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and b"content-length: 0" in data.lower():
                break
    return data


def test_forward_raw_query_bytes_survive(proxy: str) -> None:
    target = "/echo?a=1&a=2&q=%E2%9C%93+x&u=%C3%A9&empty=&flag"
    r = httpx.get(f"{proxy}{target}")
    echo = r.json()
    assert echo["query"] == "a=1&a=2&q=%E2%9C%93+x&u=%C3%A9&empty=&flag"
    assert echo["raw_path"] == "/echo"


def test_forward_percent_encoded_path_not_decoded(proxy: str) -> None:
    r = httpx.get(f"{proxy}/products/caf%C3%A9%2Fmug")
    assert r.json()["raw_path"] == "/products/caf%C3%A9%2Fmug"


def test_forward_streams_large_upload(proxy: str) -> None:
    payload = b"z" * (5 * 1024 * 1024)

    def gen() -> Any:
        for i in range(0, len(payload), 256 * 1024):
            yield payload[i:i + 256 * 1024]

    r = httpx.post(f"{proxy}/echo", content=gen(), timeout=30)
    echo = r.json()
    assert echo["body_size"] == len(payload)
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()


def test_forward_streams_slow_download_before_upstream_finishes(proxy: str) -> None:
    t0 = time.monotonic()
    with httpx.stream("GET", f"{proxy}/slow-chunks?n=4&delay=0.4", timeout=10) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - t0
        rest = b"".join(chunks)
    total = time.monotonic() - t0
    assert first.startswith(b"chunk0")
    assert b"chunk3" in first + rest
    assert first_at < 0.8 < total  # the first bytes came long before the upstream finished


def test_forward_gzip_passes_through_encoded(proxy: str) -> None:
    with httpx.stream("GET", f"{proxy}/gzip", headers={"accept-encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) == len(GZ_BODY)
    assert raw == GZ_BODY and gzip.decompress(raw) == GZ_TEXT


def test_forward_keeps_set_cookie_headers_separate(proxy: str) -> None:
    r = httpx.get(f"{proxy}/cookies", headers=BROWSER)
    cookies = r.headers.get_list("set-cookie")
    assert "a=1; Path=/" in cookies and "b=2; Path=/; HttpOnly" in cookies


def test_forward_joins_multiple_cookie_headers(proxy: str) -> None:
    req = (b"GET /echo HTTP/1.1\r\nHost: shop\r\nCookie: a=1\r\nCookie: b=2\r\n"
           b"Connection: close\r\n\r\n")
    data = _raw(proxy, req)
    assert b'["cookie","a=1; b=2"]' in data


def test_forward_drops_hop_by_hop_both_ways(proxy: str) -> None:
    req = (b"GET /echo HTTP/1.1\r\nHost: shop\r\nConnection: close, x-drop-me\r\n"
           b"X-Drop-Me: 1\r\nKeep-Alive: timeout=1\r\nTE: trailers\r\n"
           b"Proxy-Authorization: Basic eA==\r\nUpgrade: h2c\r\nX-Keep: 1\r\n\r\n")
    data = _raw(proxy, req).lower()
    body = data.split(b"\r\n\r\n", 1)[1]
    for name in (b"x-drop-me", b"keep-alive", b'"te"', b"proxy-authorization", b"upgrade"):
        assert name not in body
    assert b"x-keep" in body
    r = httpx.get(f"{proxy}/hop")
    assert "x-secret-hop" not in r.headers and "keep-alive" not in r.headers
    assert r.headers["x-kept"] == "yes"


def test_forward_sets_forwarding_headers(proxy: str) -> None:
    echo = httpx.get(f"{proxy}/echo", headers={"host": "shop.example"}).json()
    assert _headers(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["http"]
    assert _headers(echo, "x-forwarded-host") == ["shop.example"]
    assert _headers(echo, "host") == ["shop.example"]  # preserve_host defaults on


def test_forward_ignores_client_forwarding_headers_from_untrusted_hops(proxy: str) -> None:
    echo = httpx.get(f"{proxy}/echo", headers={
        "x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "https", "forwarded": "for=6.6.6.6",
    }).json()
    assert _headers(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["http"]
    assert _headers(echo, "forwarded") == []


def test_forward_trusts_forwarding_headers_from_configured_hop(
    origin: str, make_proxy: Callable[..., str]
) -> None:
    proxy = make_proxy(origin, trusted_hops=("127.0.0.1",))
    echo = httpx.get(f"{proxy}/echo", headers={"x-forwarded-for": "203.0.113.9",
                                               "x-forwarded-proto": "https"}).json()
    assert _headers(echo, "x-forwarded-for") == ["203.0.113.9, 127.0.0.1"]
    assert _headers(echo, "x-forwarded-proto") == ["https"]


def test_forward_host_rewritten_when_not_preserved(
    origin: str, make_proxy: Callable[..., str]
) -> None:
    proxy = make_proxy(origin, preserve_host=False)
    echo = httpx.get(f"{proxy}/echo", headers={"host": "shop.example"}).json()
    assert _headers(echo, "host") == [origin.removeprefix("http://")]


def test_forward_returns_redirects_unfollowed(proxy: str) -> None:
    r = httpx.get(f"{proxy}/redirect", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/echo"


@pytest.mark.parametrize("code", [204, 304])
def test_forward_no_body_statuses(proxy: str, code: int) -> None:
    r = httpx.get(f"{proxy}/status/{code}")
    assert r.status_code == code and r.content == b""


def test_forward_refused_upstream_is_502(make_proxy: Callable[..., str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = make_proxy(f"http://127.0.0.1:{port}")
    r = httpx.get(f"{proxy}/echo")
    assert r.status_code == 502 and b"upstream" in r.content


def test_forward_upstream_timeout_is_504(origin: str, make_proxy: Callable[..., str]) -> None:
    proxy = make_proxy(origin, read_timeout=0.3)
    t0 = time.monotonic()
    r = httpx.get(f"{proxy}/sleep?s=2", timeout=5)
    assert r.status_code == 504 and b"timed out" in r.content
    assert time.monotonic() - t0 < 1.5
    assert httpx.get(f"{proxy}/echo").status_code == 200  # other requests unaffected


def test_forward_upstream_dying_mid_body_ends_response_and_worker_lives(proxy: str) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{proxy}/die", timeout=5).read()
    assert httpx.get(f"{proxy}/echo").status_code == 200


def test_forward_rejects_oversized_body_before_upstream(
    origin: str, make_proxy: Callable[..., str]
) -> None:
    proxy = make_proxy(origin, max_body_bytes=1000)
    r = httpx.post(f"{proxy}/upload", content=b"x" * 2000)
    assert r.status_code == 413
    r = httpx.post(f"{proxy}/upload", content=iter([b"x" * 600, b"x" * 600]))
    assert r.status_code == 413
    assert httpx.post(f"{proxy}/upload", content=b"x" * 900).json()["size"] == 900


def test_forward_drops_client_intent_headers(proxy: str) -> None:
    echo = httpx.get(f"{proxy}/echo", headers={
        "x-intent-class": "decisive-buyer", "X-Intent-Identify": "mallory", **BROWSER,
    }).json()
    assert "decisive-buyer" not in [v for _, v in echo["headers"]]
    assert _headers(echo, "x-intent-identify") == []


def test_forward_keeps_no_cookie_jar_between_shoppers(proxy: str) -> None:
    with httpx.Client() as a:
        a.get(f"{proxy}/cookies")
    echo = httpx.get(f"{proxy}/echo").json()  # a different shopper
    assert all("a=1" not in v for k, v in echo["headers"] if k == "cookie")


def test_forward_identify_header_is_stripped_from_response(proxy: str) -> None:
    r = httpx.get(f"{proxy}/identify?user=alice", headers=BROWSER)
    assert r.status_code == 200 and "x-intent-identify" not in r.headers


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
        b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n  folded\r\n\r\n",
        b"GET /echo HTTP/1.1\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ],
    ids=["cl-and-te", "two-cl", "obs-fold", "no-host", "two-hosts"],
)
def test_forward_rejects_smuggling_and_host_shapes(proxy: str, request_bytes: bytes) -> None:
    data = _raw(proxy, request_bytes)
    assert data.startswith(b"HTTP/1.1 400"), data[:80]
    assert b'"method"' not in data  # the origin never answered


def test_forward_oversized_header_section_is_431(proxy: str) -> None:
    req = b"GET /echo HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"a" * 40000 + b"\r\n\r\n"
    assert _raw(proxy, req).startswith(b"HTTP/1.1 431")


def test_forward_oversized_target_is_414(proxy: str) -> None:
    req = b"GET /echo?" + b"q" * 10000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    assert _raw(proxy, req).startswith(b"HTTP/1.1 414")


def test_forward_slow_headers_are_cut(origin: str, make_proxy: Callable[..., str]) -> None:
    proxy = make_proxy(origin, header_timeout=0.5)
    host, port = proxy.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n")
        t0 = time.monotonic()
        data = s.recv(1000)
        assert data.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - t0 < 3
    assert httpx.get(f"{proxy}/echo").status_code == 200


def test_forward_websocket_passthrough(proxy: str) -> None:
    import asyncio

    import aiohttp

    async def go() -> tuple[str, bytes]:
        async with aiohttp.ClientSession() as s, s.ws_connect(f"{proxy}/ws") as ws:
            await ws.send_str("hi")
            text = (await ws.receive()).data
            await ws.send_bytes(b"\x01\x02")
            data = (await ws.receive()).data
            return text, data

    text, data = asyncio.run(go())
    assert text == "echo:hi" and data == b"echo:\x01\x02"
