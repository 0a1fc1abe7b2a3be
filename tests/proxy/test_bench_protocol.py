"""The bench's protocol-level passthrough (``python -m proxy.bench.clients protocol``): what it
measures must be a correct forward, or its figure means nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import free_port, read_body, serve_in_thread


async def _origin(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    path = scope["path"]
    if path == "/missing":
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"no"})
        return
    if path == "/stream":  # no length: the origin's answer is chunked
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    out = b"%s %s?%s body=%s" % (scope["method"].encode(), scope["raw_path"],
                                 scope["query_string"], body)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(out)).encode()),
                            (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]})
    await send({"type": "http.response.body", "body": out})


@pytest.fixture
def proxy_url() -> Iterator[str]:
    with serve_in_thread(_origin) as upstream:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "proxy.bench.clients", "protocol",
                                 upstream, str(port)])
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(url + "/", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_protocol_passthrough_forwards_requests_and_answers_on_one_connection(
        proxy_url: str) -> None:
    with httpx.Client(base_url=proxy_url) as client:
        got = client.get("/a%2Fb", params={"q": "x y"})
        assert got.status_code == 200 and got.text == "GET /a%2Fb?q=x+y body="
        assert got.headers.get_list("set-cookie") == ["a=1", "b=2"]
        posted = client.post("/cart/add.js", content=b"id=phone-pro&quantity=1")
        assert posted.text == "POST /cart/add.js? body=id=phone-pro&quantity=1"
        chunked = client.post("/c", content=iter([b"ab", b"cd"]))  # chunked request body
        assert chunked.text == "POST /c? body=abcd"
        streamed = client.get("/stream")
        assert streamed.text == "one,two,three"
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert client.get("/missing").status_code == 404
        head = client.head("/")
        assert head.status_code == 200 and head.content == b""
        assert client.get("/after-head").text.startswith("GET /after-head")
