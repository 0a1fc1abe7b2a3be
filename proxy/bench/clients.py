"""Minimal raw-ASGI passthroughs used only by ``intentgate bench`` to compare upstream clients
on equal terms (same server stack, no classification, no header rewriting beyond hop-by-hop):

    python -m proxy.bench.clients httpx|aiohttp|own UPSTREAM PORT

``own`` is the proxy's own client (``proxy.upstream``) with nothing around it: the floor the
full forwarding path (``passthrough``) is measured against. aiohttp comes from the ``bench``
extra.
"""

from __future__ import annotations

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
        import asyncio

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


def main(argv: list[str]) -> int:
    import uvicorn

    kind, upstream, port = argv
    factory = {"httpx": create_httpx_passthrough, "aiohttp": create_aiohttp_passthrough,
               "own": create_own_passthrough}[kind]
    uvicorn.run(factory(upstream.rstrip("/")), host="127.0.0.1", port=int(port),
                http="httptools", loop="uvloop", log_level="warning", access_log=False,
                proxy_headers=False, server_header=False, date_header=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
