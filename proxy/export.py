"""Publishing class changes: one versioned record per change of a session's class, to sinks that a
store's CDP or messaging tool subscribes to (Redis Stream, HTTP webhook, the audit log).

The request path only compares the session's class with the one it had (a dict lookup) and, on a
change, builds one small dict and appends it to each sink's bounded buffer; a full buffer drops
the record and counts it. One task per sink drains its buffer in batches. A failed batch stays at
the head of the buffer and is sent again after a backoff (doubling from ``retry_base`` up to
``retry_max``), so delivery is at least once: a batch whose reply was lost is sent twice, and a
consumer deduplicates by the record's ``id``. Records carry pseudonyms only (docs/experiments.md
documents the format, version 1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from typing import Any, Protocol

import orjson

from classifiers import UNDETERMINED
from signals.background import stop
from signals.ratelog import RateLimitedLog

logger = logging.getLogger(__name__)

RECORD_VERSION = 1


class ExportSink(Protocol):
    name: str

    async def send(self, batch: list[dict[str, Any]]) -> None:
        """Deliver ``batch`` or raise (the batch is retried)."""

    async def aclose(self) -> None: ...


class RedisStreamExport:
    """XADD with an approximate MAXLEN (``~``): Redis trims whole nodes, so the length stays
    within a few percent above ``maxlen`` at O(1) cost. Consumers read with consumer groups."""

    name = "redis_stream"

    def __init__(self, client: Any, key: str, maxlen: int) -> None:
        self.client = client
        self.key = key
        self.maxlen = maxlen

    async def send(self, batch: list[dict[str, Any]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for rec in batch:
            pipe.xadd(self.key, {"v": str(RECORD_VERSION), "r": orjson.dumps(rec)},
                      maxlen=self.maxlen, approximate=True)
        await pipe.execute()

    async def aclose(self) -> None:
        pass  # the store owns the client


class WebhookExport:
    """POST ``{"v": 1, "records": [...]}`` as JSON; any 2xx is a delivery."""

    name = "webhook"

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 5.0) -> None:
        import httpx

        headers = {"content-type": "application/json", "user-agent": "intentgate-export"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.url = url
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def send(self, batch: list[dict[str, Any]]) -> None:
        body = orjson.dumps({"v": RECORD_VERSION, "records": batch})
        r = await self._client.post(self.url, content=body)
        if not 200 <= r.status_code < 300:
            raise RuntimeError(f"webhook answered {r.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()


class AuditExport:
    """Into the audit log's own sink (JSONL files or its Redis Stream), as ``kind`` records
    beside the decisions, so ``api/decisions`` lists them too."""

    name = "audit"

    def __init__(self, audit: Any) -> None:
        self.audit = audit

    async def send(self, batch: list[dict[str, Any]]) -> None:
        rows = [dict(rec, kind="class_change", **{"class": rec["to"]}) for rec in batch]
        if await self.audit.sink.write(rows) != len(rows):
            raise RuntimeError("audit sink refused the batch")

    async def aclose(self) -> None:
        pass  # the audit log closes its sink


class _Outlet:
    """One sink's bounded buffer and its drain task."""

    def __init__(self, sink: ExportSink, *, capacity: int, batch: int, retry_base: float,
                 retry_max: float) -> None:
        self.sink = sink
        self.capacity = capacity
        self.batch = batch
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.buffer: deque[dict[str, Any]] = deque()
        self.stats = dict.fromkeys(("queued", "delivered", "dropped", "failures", "batches"), 0)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = RateLimitedLog(logger)

    def put(self, rec: dict[str, Any]) -> None:
        if len(self.buffer) >= self.capacity:
            self.stats["dropped"] += 1
            return
        self.buffer.append(rec)
        self.stats["queued"] += 1
        if self._task is None:
            self._start()
        elif self._wake is not None:
            self._wake.set()

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._wake = asyncio.Event()
        self._wake.set()
        self._task = loop.create_task(self._run(), name=f"intentgate-export-{self.sink.name}")

    async def _run(self) -> None:
        assert self._wake is not None
        delay = self.retry_base
        while True:
            if not self.buffer:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not await self.send_one():
                await asyncio.sleep(delay)
                delay = min(delay * 2.0, self.retry_max)
            else:
                delay = self.retry_base

    async def send_one(self) -> bool:
        """Send the head batch; it leaves the buffer only once delivered."""
        batch = [self.buffer[i] for i in range(min(self.batch, len(self.buffer)))]
        try:
            await self.sink.send(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats["failures"] += 1
            self._log.warning("export to %s failed (%d buffered, retrying): %r",
                              self.sink.name, len(self.buffer), exc)
            return False
        for _ in batch:
            self.buffer.popleft()
        self.stats["delivered"] += len(batch)
        self.stats["batches"] += 1
        return True

    async def aclose(self, deadline: float) -> None:
        task, self._task = self._task, None
        await stop(task)
        end = time.monotonic() + deadline
        while self.buffer and time.monotonic() < end:
            if not await self.send_one():
                break
        await self.sink.aclose()


class Exporter:
    """Detects class changes per session (bounded LRU) and hands records to every sink."""

    def __init__(self, sinks: list[ExportSink], *, pseudonym: Any, capacity: int = 200_000,
                 buffer: int = 10_000, batch: int = 100, retry_base: float = 0.5,
                 retry_max: float = 30.0, h_signals: bytes = b"x-intent-signals") -> None:
        self.h_signals = h_signals
        self.outlets = [_Outlet(s, capacity=buffer, batch=batch, retry_base=retry_base,
                                retry_max=retry_max) for s in sinks]
        self.pseudonym = pseudonym
        self.capacity = capacity
        self.changes = 0
        self._last: OrderedDict[str, str] = OrderedDict()
        self._seq = 0

    def observe(self, decision: Any, experiment: str | None, group: str | None) -> None:
        """A scored request (no ``await`` here: request path)."""
        last = self._last
        session = decision.session
        slug = decision.slug
        previous = last.get(session)
        if previous == slug:
            last.move_to_end(session)
            return
        last[session] = slug
        last.move_to_end(session)
        if len(last) > self.capacity:
            last.popitem(last=False)
        if previous is None and slug == UNDETERMINED:
            return  # a session's first request: nothing changed yet
        self.changes += 1
        self._seq += 1
        active = decision.active
        pseud = self.pseudonym("s:" + session)
        rec = {
            "v": RECORD_VERSION, "id": f"{pseud}.{decision.now:.6f}.{self._seq}",
            "ts": decision.now, "session": pseud, "profile": decision.profile,
            "from": previous, "to": slug, "model": active.version if active else None,
            "experiment": experiment, "group": group,
            "signals": _signals(next((v for k, v in decision.headers
                                      if k == self.h_signals), b"")),
        }
        for outlet in self.outlets:
            outlet.put(rec)

    def stats(self) -> dict[str, float]:
        out: dict[str, float] = {"changes": float(self.changes)}
        for o in self.outlets:
            for k, v in o.stats.items():
                out[f"{o.sink.name}_{k}"] = float(v)
            out[f"{o.sink.name}_buffered"] = float(len(o.buffer))
        return out

    async def aclose(self, deadline: float = 2.0) -> None:
        for o in self.outlets:
            await o.aclose(deadline)


def _signals(value: bytes) -> list[dict[str, Any]]:
    """``b"comparisons=0.46, price_sorts=0.21"`` -> ``[{"signal": "comparisons", "share": 0.46},
    ...]`` (the X-Intent-Signals header the origin got, so both sides name the same signals)."""
    out: list[dict[str, Any]] = []
    if not value:
        return out
    for part in value.decode("latin-1").split(", "):
        name, _, share = part.partition("=")
        try:
            out.append({"signal": name, "share": float(share)})
        except ValueError:
            continue
    return out
