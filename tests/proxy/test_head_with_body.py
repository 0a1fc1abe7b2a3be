"""The server writes a response head together with the first body bytes (proxy/server.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.server import _HeadWithBody


class _Transport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, parts: Any) -> None:
        self.calls.append(("writelines", tuple(parts)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True


class _Cycle:
    response_started = False


def test_head_waits_for_the_first_body_write_and_leaves_with_it() -> None:
    async def go() -> list[tuple[str, Any]]:
        transport, cycle = _Transport(), _Cycle()
        t = _HeadWithBody(transport, cycle)  # type: ignore[arg-type]
        t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: straight out
        cycle.response_started = True
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(b"body")
        t.write(b"more")
        await asyncio.sleep(0)
        return transport.calls

    assert asyncio.run(go()) == [
        ("write", b"HTTP/1.1 100 Continue\r\n\r\n"),
        ("writelines", (b"HTTP/1.1 200 OK\r\n\r\n", b"body")),
        ("write", b"more"),
    ]


def test_a_head_without_a_body_write_goes_out_with_the_next_write_or_on_close() -> None:
    first, cycle = _Transport(), _Cycle()
    cycle.response_started = True
    t = _HeadWithBody(first, cycle)  # type: ignore[arg-type]
    t.write(b"HEAD")
    assert first.calls == []
    t.write(b"")  # the empty body message a streaming app sends: the head leaves now
    assert first.calls == [("writelines", (b"HEAD", b""))]
    second = _Transport()
    t2 = _HeadWithBody(second, cycle)  # type: ignore[arg-type]
    t2.write(b"HEAD")
    t2.close()
    assert second.calls == [("write", b"HEAD"), ("close", None)]
