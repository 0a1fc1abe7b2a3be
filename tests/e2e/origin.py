"""The purpose-built raw-ASGI origin of every end-to-end test: it shows exactly what arrived.

It runs in a thread of the test process, so tests coordinate with it through ``Gate`` objects
(threading events) instead of sleeps: a stream waits until the test has read its first chunk,
and an upload reports each chunk as it lands.

- ``/echo`` (and ``/echo/…``, ``/products…``, ``/collections…``, ``/pages…``, ``/search…``, the
  shop pages classification tests browse): JSON of method, path, raw path, raw query, headers
  (list of pairs) and body (size, sha256, the text when small, chunk count).
- ``/upload?gate=ID``: a sink that consumes the body chunk by chunk, announcing the first chunk
  on gate ``ID``; answers size and chunk count.
- ``/stream?gate=ID&n=``: chunked body; sends ``part0``, waits on gate ``ID``, sends the rest.
- ``/forever?gate=ID``: chunked body that never ends; sets gate ``ID`` when the client is gone.
- ``/gzip``: gzip bytes with ``Content-Encoding: gzip`` and their ``Content-Length``.
- ``/cookies``: three ``Set-Cookie`` headers, one with a comma in its Expires date.
- ``/redirect?to=&code=``: a redirect.  ``/status/{code}``: that status, no body.
- ``/hop``: hop-by-hop response headers plus one named in ``Connection``.
- ``/hold?gate=ID``: sets gate ``ID:arrived``, then answers ``released`` once gate ``ID`` is
  set (a slow origin the test controls).  ``/sleep?s=``: answers after ``s`` seconds.
- ``/die``: starts a body, then drops the connection.
- ``/identify?user=``: answers with ``X-Intent-Identify: <user>`` (default ``alice``).
- websocket ``/ws``: accepts (with the first offered subprotocol), echoes text and bytes
  prefixed with ``echo:``, and ``close`` closes with code 4001.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
from typing import Any
from urllib.parse import parse_qs

import orjson

GZ_TEXT = b"<p>compressed page</p>" * 200
GZ_BODY = gzip.compress(GZ_TEXT, mtime=0)
COOKIES = (b"sid=abc; Path=/; HttpOnly", b"cart=1; Path=/",
           b"pref=x; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/")


_ECHO_PREFIXES = ("/echo/", "/products", "/collections", "/pages", "/search")


class Gate:
    """A named threading event shared between a test and the origin's thread."""

    _all: dict[str, threading.Event] = {}
    _lock = threading.Lock()

    @classmethod
    def get(cls, name: str) -> threading.Event:
        with cls._lock:
            return cls._all.setdefault(name, threading.Event())


async def _wait(event: threading.Event, timeout: float = 10.0) -> bool:
    return await asyncio.to_thread(event.wait, timeout)


async def _answer(send: Any, status: int, body: bytes = b"", headers: Any = ()) -> None:
    hdrs = [(b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def _chunked_start(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _websocket(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    protocols = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": protocols[0] if protocols else None})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") == "close":
            await send({"type": "websocket.close", "code": 4001})
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": "echo:" + msg["text"]})
        else:
            await send({"type": "websocket.send", "bytes": b"echo:" + msg["bytes"]})


async def origin_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
        return
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
    if path == "/echo" or path.startswith(_ECHO_PREFIXES):
        digest = hashlib.sha256()
        body = bytearray()
        size = chunks = 0
        while True:
            msg = await receive()
            chunk = msg.get("body", b"")
            size += len(chunk)
            chunks += bool(chunk)
            digest.update(chunk)
            if len(body) < 4096:
                body += chunk[:4096]
            if not msg.get("more_body"):
                break
        payload = orjson.dumps({
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_size": size,
            "body_sha256": digest.hexdigest(),
            "body_text": bytes(body).decode("latin-1") if size <= 4096 else None,
            "chunks": chunks,
        })
        await _answer(send, 200, payload, [(b"content-type", b"application/json")])
    elif path == "/upload":
        gate = Gate.get(query["gate"]) if "gate" in query else None
        size = chunks = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            size += len(msg.get("body", b""))
            chunks += 1
            if gate is not None and size:
                gate.set()
            if not msg.get("more_body"):
                break
        await _answer(send, 200, orjson.dumps({"size": size, "chunks": chunks}))
    elif path == "/stream":
        await _chunked_start(send)
        await send({"type": "http.response.body", "body": b"part0\n", "more_body": True})
        if not await _wait(Gate.get(query["gate"])):
            raise RuntimeError("the test never read the first part")
        for i in range(1, int(query.get("n", "3"))):
            await send({"type": "http.response.body", "body": b"part%d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/forever":
        gone = Gate.get(query["gate"])

        async def watch() -> None:  # uvicorn's send is silent after a disconnect; receive is not
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        await _chunked_start(send)
        while not gone.is_set():
            await send({"type": "http.response.body", "body": b"tick\n" * 100, "more_body": True})
            await asyncio.sleep(0.01)
        await watcher
    elif path == "/gzip":
        await _answer(send, 200, GZ_BODY, [(b"content-encoding", b"gzip"),
                                           (b"content-type", b"text/html")])
    elif path == "/cookies":
        await _answer(send, 200, b"ok", [(b"set-cookie", c) for c in COOKIES])
    elif path == "/redirect":
        code = int(query.get("code", "302"))
        await _answer(send, code, b"moved", [(b"location", query.get("to", "/echo").encode())])
    elif path.startswith("/status/"):
        code = int(path.rsplit("/", 1)[1])
        headers = [(b"etag", b'"v1"')] if code == 304 else []
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/hop":
        await _answer(send, 200, b"hop", [
            (b"connection", b"x-secret-hop"), (b"x-secret-hop", b"1"),
            (b"keep-alive", b"timeout=5"), (b"proxy-authenticate", b"Basic"),
            (b"trailer", b"x-checksum"), (b"upgrade", b"h2c"), (b"x-kept", b"yes"),
        ])
    elif path == "/hold":
        Gate.get(query["gate"] + ":arrived").set()
        released = await _wait(Gate.get(query["gate"]))
        await _answer(send, 200 if released else 500, b"released")
    elif path == "/sleep":
        await asyncio.sleep(float(query.get("s", "1")))
        await _answer(send, 200, b"slept")
    elif path == "/die":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100000")]})
        await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        raise RuntimeError("origin died mid-body (on purpose)")
    elif path == "/identify":
        user = query.get("user", "alice")
        await _answer(send, 200, b"hello", [(b"x-intent-identify", user.encode())])
    else:
        await _answer(send, 404, b"not found")
