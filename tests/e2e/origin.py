"""A purpose-built origin for end-to-end tests: raw ASGI, so it shows exactly what arrived.

- ``/echo``: JSON of method, raw path, raw query, headers (as a list) and body size/hash.
- ``/upload``: consumes the body in chunks, answers its size and whether it arrived in pieces.
- ``/slow-chunks?n=&delay=``: a chunked body, one chunk every ``delay`` seconds.
- ``/gzip``: a gzip-encoded body with ``Content-Encoding: gzip``.
- ``/cookies``: two ``Set-Cookie`` headers.
- ``/redirect``: 302 to ``/echo``.  ``/status/{code}``: that status, empty body.
- ``/hop``: response with hop-by-hop headers and one named in ``Connection``.
- ``/sleep?s=``: answers after ``s`` seconds.  ``/die``: starts a body and drops the connection.
- ``/identify?user=``: answers with ``X-Intent-Identify``.
- websocket ``/ws``: echoes text and bytes.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from typing import Any
from urllib.parse import parse_qs

import orjson

GZ_TEXT = b"hello compressed world " * 50
GZ_BODY = gzip.compress(GZ_TEXT, mtime=0)


async def _send(send: Any, status: int, body: bytes = b"", headers: Any = ()) -> None:
    hdrs = [(b"content-length", str(len(body)).encode())] + list(headers)
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def origin_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                await send({"type": "websocket.send", "text": "echo:" + msg["text"]})
            else:
                await send({"type": "websocket.send", "bytes": b"echo:" + msg["bytes"]})
    path = scope["path"]
    query = parse_qs(scope["query_string"].decode("latin-1"))
    if path == "/echo" or path.startswith(("/products", "/collections", "/pages", "/search")):
        digest = hashlib.sha256()
        size = 0
        while True:
            msg = await receive()
            chunk = msg.get("body", b"")
            size += len(chunk)
            digest.update(chunk)
            if not msg.get("more_body"):
                break
        body = orjson.dumps({
            "method": scope["method"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_size": size,
            "body_sha256": digest.hexdigest(),
        })
        await _send(send, 200, body, [(b"content-type", b"application/json")])
    elif path == "/upload":
        size = chunks = 0
        while True:
            msg = await receive()
            size += len(msg.get("body", b""))
            chunks += 1
            if not msg.get("more_body"):
                break
        await _send(send, 200, orjson.dumps({"size": size, "chunks": chunks}))
    elif path == "/slow-chunks":
        n = int(query.get("n", ["3"])[0])
        delay = float(query.get("delay", ["0.3"])[0])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": f"chunk{i}\n".encode(),
                        "more_body": True})
            await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b""})
    elif path == "/gzip":
        await _send(send, 200, GZ_BODY, [(b"content-encoding", b"gzip"),
                                         (b"content-type", b"text/plain")])
    elif path == "/cookies":
        await _send(send, 200, b"ok", [(b"set-cookie", b"a=1; Path=/"),
                                       (b"set-cookie", b"b=2; Path=/; HttpOnly")])
    elif path == "/redirect":
        await _send(send, 302, b"", [(b"location", b"/echo")])
    elif path.startswith("/status/"):
        await _send(send, int(path.rsplit("/", 1)[1]), b"")
    elif path == "/hop":
        await _send(send, 200, b"hop", [(b"connection", b"x-secret-hop"), (b"x-secret-hop", b"1"),
                                        (b"keep-alive", b"timeout=5"), (b"x-kept", b"yes")])
    elif path == "/sleep":
        await asyncio.sleep(float(query.get("s", ["1"])[0]))
        await _send(send, 200, b"slept")
    elif path == "/die":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100000")]})
        await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        raise RuntimeError("origin died mid-body (on purpose)")
    elif path == "/identify":
        user = query.get("user", ["alice"])[0]
        await _send(send, 200, b"hello", [(b"x-intent-identify", user.encode())])
    else:
        await _send(send, 404, b"not found")
