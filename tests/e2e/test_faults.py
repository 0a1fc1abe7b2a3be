"""Faults around the proxy: the upstream dying and coming back, overload, idle connections."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable

import httpx

from tests.e2e.origin import Gate, origin_app
from tests.servers import free_port, serve_in_thread


def _gate() -> tuple[str, threading.Event, threading.Event]:
    """A name for ``/hold?gate=``, the event it sets on arrival, and the one that releases it."""
    name = uuid.uuid4().hex
    return name, Gate.get(name + ":arrived"), Gate.get(name)


def _still_open(s: socket.socket) -> bool:
    """True when the server has neither answered nor closed ``s`` yet (nothing to read)."""
    s.setblocking(False)
    try:
        s.recv(1, socket.MSG_PEEK)  # an answer or EOF: no longer waiting on its headers
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def test_upstream_killed_gives_502_then_recovers_without_proxy_restart(
    make_proxy: Callable[..., str],
) -> None:
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    proxy = make_proxy(upstream)
    with serve_in_thread(origin_app, port=port):
        assert httpx.get(f"{proxy}/echo").status_code == 200
    # The origin is gone: pooled keep-alive connections are dead, new ones are refused.
    statuses = {httpx.get(f"{proxy}/echo").status_code for _ in range(3)}
    assert statuses == {502}
    with serve_in_thread(origin_app, port=port):
        assert httpx.get(f"{proxy}/echo").status_code == 200


def test_beyond_the_concurrency_limit_the_proxy_answers_503_at_once(
    origin: str, make_proxy: Callable[..., str],
) -> None:
    # uvicorn counts the arriving connection too: with a limit of 4, three held requests fill it.
    proxy = make_proxy(origin, limit_concurrency=4)
    gates = [_gate() for _ in range(3)]
    slow: list[int] = []

    def hold(name: str) -> None:
        slow.append(httpx.get(f"{proxy}/hold?gate={name}", timeout=20).status_code)

    threads = [threading.Thread(target=hold, args=(name,)) for name, _, _ in gates]
    try:
        for t in threads:
            t.start()
        for _, arrived, _ in gates:
            assert arrived.wait(10), "a held request never reached the origin"
        r = httpx.get(f"{proxy}/echo", timeout=10)
        # Answered while all three were still held at the origin: the 503 queued behind nothing.
        assert r.status_code == 503
        assert not any(release.is_set() for _, _, release in gates)
    finally:
        for _, _, release in gates:
            release.set()
        for t in threads:
            t.join()
    assert slow == [200, 200, 200]
    assert httpx.get(f"{proxy}/echo").status_code == 200


def test_many_idle_connections_do_not_starve_real_clients(
    origin: str, make_proxy: Callable[..., str],
) -> None:
    proxy = make_proxy(origin, header_timeout=1.5, limit_concurrency=1000)
    host, port = proxy.removeprefix("http://").split(":")
    idle = []
    for _ in range(150):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n")  # never finishes its headers
        idle.append(s)
    try:
        assert httpx.get(f"{proxy}/echo", timeout=10).status_code == 200
        # Served while every idle connection was still open: it did not wait for their cut.
        assert sum(_still_open(s) for s in idle) == len(idle)
        closed = 0
        for s in idle:
            s.settimeout(10.0)  # a generous bound on the wait for the header deadline
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            closed += data.startswith(b"HTTP/1.1 408") or data == b""
        assert closed == len(idle)  # every slow client was cut at the header deadline
    finally:
        for s in idle:
            s.close()


class _DroppingOrigin:
    """A raw HTTP/1.1 origin: answers GETs with keep-alive, and for every other method reads
    the request and closes the connection without answering, counting what arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                method = head.split(b" ", 1)[0].decode()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.seen.append(method)
                if method != "GET":
                    return  # drop it: the proxy must not send the request again
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def test_a_non_idempotent_request_is_never_retried_against_the_upstream(
    make_proxy: Callable[..., str],
) -> None:
    origin = _DroppingOrigin()
    proxy = make_proxy(origin.url)
    with httpx.Client(base_url=proxy) as c:
        assert c.get("/warm").status_code == 200  # a pooled keep-alive connection exists
        for method in ("POST", "PATCH"):
            r = c.request(method, "/cart/change", content=b"line=1&quantity=2")
            assert r.status_code == 502
    time.sleep(0.3)  # room for a resend that must not come (an absence has no event to await)
    assert origin.seen == ["GET", "POST", "PATCH"]  # each arrived exactly once
    origin.sock.close()
