"""Tests for proxy/forward.py without sockets: settings checked at construction, and the one walk
over the client's headers that builds the head for the origin (``ForwardApp._head``). The
forwarding itself, on loopback, is in ``tests/e2e/test_forwarding.py``."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.forward import ForwardApp, Timeouts
from tests.factories import BROWSER_UA, make_engine


def _scope(headers: list[tuple[bytes, bytes]], *, path: str = "/p/a", raw_path: bytes | None = None,
           query: bytes = b"", method: str = "GET", client: str = "10.0.0.7",
           scheme: str = "http") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path,
            "raw_path": raw_path if raw_path is not None else path.encode(),
            "query_string": query, "headers": headers, "client": (client, 50000),
            "scheme": scheme}


def _head(forward: ForwardApp, scope: dict[str, Any],
          seen: list[Any] | None = None) -> tuple[bytes, int | None, bool]:
    parts, length, chunked = forward._head(scope, seen)
    return b"".join(parts), length, chunked


def _lines(head: bytes) -> list[bytes]:
    return head.split(b"\r\n")[1:-1]


def _names(head: bytes) -> list[bytes]:
    return [ln.split(b": ", 1)[0] for ln in _lines(head)]


@pytest.mark.parametrize("url", ["ftp://shop", "shop:8080", "http://", "//shop"])
def test_forward_refuses_an_upstream_that_is_not_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="upstream must be an http"):
        ForwardApp(url)


def test_forward_settings_reach_the_pool() -> None:
    forward = ForwardApp("https://origin.example/shop/", pool_size=9, max_header_bytes=4096,
                         timeouts=Timeouts(connect=1.5, read=2.5, pool=3.5))
    pool = forward.pool
    assert (pool.host, pool.port, pool.limit) == ("origin.example", 443, 9)
    assert pool.ssl is not None and pool.server_hostname == "origin.example"
    assert (pool.connect_timeout, pool.read_timeout, pool.pool_timeout) == (1.5, 2.5, 3.5)
    assert pool.max_header_bytes == 4096
    assert forward.upstream == "https://origin.example"


def test_forward_head_keeps_method_raw_target_and_base_path() -> None:
    forward = ForwardApp("http://origin:8080/base/")
    head, length, chunked = _head(forward, _scope(
        [(b"host", b"shop")], path="/café/x", raw_path=b"/caf%C3%A9%2Fx", query=b"a=1&a=2",
        method="PURGE"))
    assert head.startswith(b"PURGE /base/caf%C3%A9%2Fx?a=1&a=2 HTTP/1.1\r\n")
    assert head.endswith(b"\r\n") and length is None and not chunked


def test_forward_head_drops_hop_by_hop_and_connection_named_headers() -> None:
    forward = ForwardApp("http://origin")
    head, _, _ = _head(forward, _scope([
        (b"host", b"shop"), (b"connection", b"keep-alive, X-Drop"), (b"x-drop", b"1"),
        (b"keep-alive", b"timeout=5"), (b"te", b"trailers"), (b"upgrade", b"h2c"),
        (b"proxy-authorization", b"Basic eA=="), (b"x-keep", b"1"),
    ]))
    names = _names(head)
    assert b"x-keep" in names
    assert not {b"connection", b"x-drop", b"keep-alive", b"te", b"upgrade",
                b"proxy-authorization"} & set(names)


def test_forward_head_joins_cookie_headers_into_one() -> None:
    forward = ForwardApp("http://origin")
    head, _, _ = _head(forward, _scope([(b"cookie", b"a=1"), (b"host", b"s"),
                                        (b"cookie", b"b=2; c=3")]))
    assert [ln for ln in _lines(head) if ln.startswith(b"cookie")] == [b"cookie: a=1; b=2; c=3"]


def test_forward_head_reads_the_body_framing() -> None:
    forward = ForwardApp("http://origin")
    head, length, chunked = _head(forward, _scope([(b"content-length", b"12"),
                                                   (b"expect", b"100-continue")], method="POST"))
    assert (length, chunked) == (12, False)
    # Both are written by the caller with the body's framing; Expect was answered already.
    assert b"content-length" not in _names(head) and b"expect" not in _names(head)
    _, length, chunked = _head(forward, _scope([(b"transfer-encoding", b"chunked")],
                                               method="POST"))
    assert (length, chunked) == (None, True)
    _, length, _ = _head(forward, _scope([(b"content-length", b"-1")], method="POST"))
    assert length is None


def test_forward_head_rebuilds_forwarding_headers_for_an_untrusted_client() -> None:
    forward = ForwardApp("http://origin:8080", preserve_host=False)
    head, _, _ = _head(forward, _scope([
        (b"host", b"shop.example"), (b"x-forwarded-for", b"6.6.6.6"),
        (b"x-forwarded-proto", b"https"), (b"forwarded", b"for=6.6.6.6"),
        (b"x-real-ip", b"6.6.6.6"),
    ], scheme="https"))
    lines = _lines(head)
    assert b"x-forwarded-for: 10.0.0.7" in lines
    assert b"x-forwarded-proto: https" in lines  # from the connection's scheme, not the client
    assert b"x-forwarded-host: shop.example" in lines
    assert b"host: origin:8080" in lines
    assert not [ln for ln in lines if ln.startswith((b"forwarded", b"x-real-ip"))]
    assert b"6.6.6.6" not in head


def test_forward_head_extends_forwarding_headers_from_a_trusted_hop() -> None:
    forward = ForwardApp("http://origin", trusted_hops=frozenset({"10.0.0.7"}))
    head, _, _ = _head(forward, _scope([
        (b"host", b"lb.internal"), (b"x-forwarded-for", b"203.0.113.9"),
        (b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"shop.example"),
    ]))
    lines = _lines(head)
    assert b"x-forwarded-for: 203.0.113.9, 198.51.100.1, 10.0.0.7" in lines
    assert b"x-forwarded-proto: https" in lines
    assert b"x-forwarded-host: shop.example" in lines and b"host: lb.internal" in lines


def test_forward_head_alone_forwards_intent_headers_untouched() -> None:
    # Without an engine nothing is classified, so nothing is ours to protect.
    forward = ForwardApp("http://origin")
    head, _, _ = _head(forward, _scope([(b"x-intent-class", b"vip")]))
    assert b"x-intent-class: vip" in _lines(head)


def test_forward_head_with_the_engine_attached_reads_what_classification_needs() -> None:
    engine = make_engine(header_prefix=b"x-shop-", identify_header=b"x-who")
    forward = ForwardApp("http://origin", trusted_hops=frozenset({"10.0.0.7"}))
    forward.attach(engine)
    seen: list[Any] = [[], None, False, False, None]
    head, _, _ = _head(forward, _scope([
        (b"user-agent", BROWSER_UA), (b"accept", b"text/html"), (b"accept-language", b"en"),
        (b"cookie", b"ig_sid=x"), (b"x-shop-class", b"vip"), (b"x-who", b"mallory"),
        (b"x-forwarded-proto", b"https"), (b"x-intent-class", b"other-prefix"),
    ]), seen)
    assert seen == [[b"ig_sid=x"], BROWSER_UA, True, True, b"https"]
    names = _names(head)
    assert b"x-shop-class" not in names and b"x-who" not in names  # a client never picks
    assert b"x-intent-class" in names  # not our prefix: the shop's business
    assert b"user-agent" in names and b"accept-language" in names  # read and forwarded
    assert forward.pool.identify_header == b"x-who"
    assert forward.pool.order_value_header == b"x-shop-order-value"
