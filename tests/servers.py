"""Run a real ASGI app under uvicorn on an ephemeral loopback port, in a thread (as httpx's
``tests/conftest.py::serve_in_thread``). Used by every end-to-end test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


async def read_body(receive: Any) -> bytes:
    """The whole request body of an ASGI HTTP request."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer(uvicorn.Server):
    """A uvicorn server that never installs signal handlers (it runs off the main thread)."""

    def install_signal_handlers(self) -> None:  # pragma: no cover - trivial
        pass


@contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL; stop the server on exit.

    Extra keyword arguments go to ``uvicorn.Config`` (e.g. ``http="httptools"``, ``lifespan="on"``).
    """
    port = config.pop("port", None) or free_port()
    config.setdefault("log_level", "warning")
    config.setdefault("lifespan", "auto")
    config.setdefault("loop", "asyncio")
    server = ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server thread died during startup")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start in 20 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_split_in_thread(app_factory: Any, **config: Any) -> Iterator[tuple[str, str]]:
    """Serve on two loopback ports at once, one server (as ``intentgate serve`` runs its
    shoppers' and admin listeners): ``app_factory(admin_port)`` builds the app; yields
    ``(public_url, admin_url)``."""
    socks = []
    for _ in range(2):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    public, admin = (int(s.getsockname()[1]) for s in socks)
    config.setdefault("log_level", "warning")
    config.setdefault("lifespan", "auto")
    config.setdefault("loop", "asyncio")
    server = ThreadServer(uvicorn.Config(app_factory(admin), **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": socks}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("server thread died during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in 20 s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for s in socks:
            s.close()
