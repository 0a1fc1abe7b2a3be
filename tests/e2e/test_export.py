"""Class changes published to a webhook, a Redis Stream and the audit log, with a real proxy and
real receivers on loopback; delivery and drops are asserted on counters, never on timing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.servers import free_port, read_body, serve_in_thread

TOKEN = "export-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
           "accept": "text/html", "accept-language": "en"}
# Three searches: the third request classifies the session (undetermined -> search-led-browser).
SESSION = ["/search?q=usb", "/search?q=lamp", "/search?q=desk"]


async def page_origin(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Receiver:
    """A webhook receiver that answers 500 while ``failing`` is set, else stores the batch."""

    def __init__(self) -> None:
        self.failing = True
        self.attempts = 0
        self.records: list[dict[str, Any]] = []
        self.auth: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = await read_body(receive)
        self.attempts += 1
        self.auth.add(dict(scope["headers"]).get(b"authorization", b"").decode())
        status = 500 if self.failing else 204
        if not self.failing:
            payload = orjson.loads(body)
            assert payload["v"] == 1
            self.records.extend(payload["records"])
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_in_thread(page_origin) as url:
        yield url


def metrics(proxy: str, family: str) -> dict[str, float]:
    text = httpx.get(proxy + "/_intentgate/metrics", headers=AUTH, timeout=5).text
    out = {}
    for line in text.splitlines():
        if line.startswith(family + "{"):
            label = line[line.index('"') + 1: line.rindex('"')]
            out[label] = float(line.split()[-1])
    return out


def shoppers(proxy: str, n: int) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for _ in range(n):
            c.cookies.clear()
            for path in SESSION:
                r = c.get(path)
            assert r.headers["x-intent-class"] == "search-led-browser"


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_export_webhook_survives_a_failing_receiver_and_delivers_at_least_once(
    upstream: str, make_proxy: Callable[..., str],
) -> None:
    receiver = Receiver()
    with serve_in_thread(receiver) as hook:
        proxy = make_proxy(upstream, preset="shopify", expose_headers=True, admin_token=TOKEN,
                           export_webhook=hook + "/changes", export_webhook_token="hook-secret",
                           export_batch=7, export_retry_max_s=0.2, budget_ms=1000,
                           bot_max_rate=100_000)
        shoppers(proxy, 20)
        assert wait_for(lambda: metrics(proxy, "intentgate_export").get(
            "webhook_failures", 0) >= 3)
        assert receiver.records == []  # nothing delivered while the receiver fails
        receiver.failing = False  # the receiver recovers
        assert wait_for(lambda: metrics(proxy, "intentgate_export").get(
            "webhook_delivered", 0) == 20)
        stats = metrics(proxy, "intentgate_export")
    assert stats["changes"] == 20 and stats["webhook_dropped"] == 0
    assert stats["webhook_buffered"] == 0
    ids = [r["id"] for r in receiver.records]
    assert len(set(ids)) == 20  # every change arrived; a duplicate could only repeat an id
    rec = receiver.records[0]
    assert rec["v"] == 1 and rec["from"] == "undetermined" and rec["to"] == "search-led-browser"
    assert len(rec["session"]) == 22 and rec["model"] and rec["group"] is None
    assert rec["signals"] and rec["signals"][0]["signal"] == "searches"
    assert receiver.auth == {"Bearer hook-secret"}


def test_export_receiver_down_longer_than_the_buffer_drops_and_counts(
    upstream: str, make_proxy: Callable[..., str],
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/changes"  # nothing listens there
    proxy = make_proxy(upstream, preset="shopify", expose_headers=True, admin_token=TOKEN,
                       export_webhook=dead, export_buffer=5, export_retry_max_s=0.2,
                       budget_ms=1000, bot_max_rate=100_000, experiment="drops",
                       holdout_share=0.2)
    shoppers(proxy, 40)  # every request was classified (asserted inside)
    stats = metrics(proxy, "intentgate_export")
    assert stats["changes"] == 40
    assert stats["webhook_delivered"] == 0
    assert stats["webhook_buffered"] == 5
    assert stats["webhook_dropped"] == 35  # counted, not silently lost
    assert stats["webhook_queued"] == 5
    # The request path never waited on the dead receiver: nothing failed open.
    assert metrics(proxy, "intentgate_fail_open_total") == {}
    # The experiment counted every session beside it.
    body = httpx.get(proxy + "/_intentgate/api/experiments/drops", headers=AUTH).json()
    assert sum(g["sessions"] for g in body["totals"].values()) == 40


@pytest.mark.redis
def test_export_redis_stream_is_bounded_and_read_with_a_consumer_group(
    upstream: str, make_proxy: Callable[..., str],
) -> None:
    from tests.redisproc import delete_prefix, shared_redis

    prefix = f"igtest{uuid.uuid4().hex[:10]}"
    client = shared_redis()
    try:
        proxy = make_proxy(upstream, preset="shopify", expose_headers=True, admin_token=TOKEN,
                           store="redis", redis_prefix=prefix, export_stream=True,
                           export_stream_maxlen=100, export_audit=True, budget_ms=1000,
                           bot_max_rate=100_000, experiment="stream", holdout_share=0.5)
        shoppers(proxy, 260)
        assert wait_for(lambda: metrics(proxy, "intentgate_export").get(
            "redis_stream_delivered", 0) == 260)
        key = f"{prefix}:export"
        length = client.xlen(key)
        assert 100 <= length < 260  # trimmed to about MAXLEN (~: whole nodes at a time)
        client.xgroup_create(key, "cdp", id="0")
        got = client.xreadgroup("cdp", "worker-1", {key: ">"}, count=1000)
        entries = got[0][1]
        assert len(entries) == length
        fields = entries[-1][1]
        assert fields[b"v"] == b"1"
        rec = orjson.loads(fields[b"r"])
        assert rec["to"] == "search-led-browser" and rec["experiment"] == "stream"
        assert rec["group"] in ("treatment", "holdout")
        # The same changes in the audit log, beside the decisions.
        assert wait_for(lambda: metrics(proxy, "intentgate_export").get(
            "audit_delivered", 0) == 260)
        decisions = httpx.get(proxy + "/_intentgate/api/decisions?limit=1000",
                              headers=AUTH).json()["decisions"]
        changes = [d for d in decisions if d.get("kind") == "class_change"]
        assert len(changes) == 260 and changes[0]["class"] == "search-led-browser"
    finally:
        delete_prefix(client, prefix)
        client.close()
