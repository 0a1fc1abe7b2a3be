"""Outcome counters on a real Redis: they ride the store's flush pipeline, add up across
processes, and survive an outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from signals.events import EventKind
from signals.identity import IdentityCodec
from signals.outcomes import OutcomeBook, field_name
from signals.redis_outcomes import RedisCounters, counters_key, read_counters
from signals.redis_store import Breaker, RedisStore
from tests.redisproc import SHARED_URL, redis_server

pytestmark = pytest.mark.redis
CODEC = IdentityCodec(b"k" * 32)


@pytest.fixture
async def make_counted(prefix: str) -> AsyncIterator[Callable[..., object]]:
    stores: list[RedisStore] = []

    async def factory(url: str = SHARED_URL, **kwargs: object) -> tuple[RedisStore, OutcomeBook]:
        store = RedisStore.connect(url, pseudonym=CODEC.pseudonym, prefix=prefix,
                                   **kwargs)  # type: ignore[arg-type]
        book = OutcomeBook(shared=True, on_pending=store.wake)
        store.add_rider(RedisCounters(book, counters_key(prefix, "exp1")))
        await store.startup()
        stores.append(store)
        return store, book

    yield factory  # type: ignore[misc]
    for s in stores:
        await s.aclose(deadline=0.5)


def _sessions(book: OutcomeBook, n: int, tag: str, purchases: int) -> None:
    for i in range(n):
        s = book.open(f"{tag}{i}", i % 3 == 0, "m1", "deal-hunter")
        if i < purchases:
            book.outcome(s, EventKind.PURCHASE, 10.25)


async def _wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[misc]
            return
        await asyncio.sleep(0.02)


async def test_redis_outcomes_two_processes_sum_through_the_flusher(make_counted,
                                                                    prefix: str) -> None:
    (a, book_a), (_b, book_b) = await make_counted(), await make_counted()
    _sessions(book_a, 30, "a", 7)
    _sessions(book_b, 20, "b", 4)
    key = counters_key(prefix, "exp1")

    async def done() -> bool:
        c = await read_counters(a.client, key)
        return sum(v for k, v in c.items() if k.endswith("|sessions")) == 50
    # No explicit flush: the background flusher was woken by the first pending increment.
    await _wait_for(done)
    c = await read_counters(a.client, key)
    assert sum(v for k, v in c.items() if k.endswith("|sessions")) == 50
    assert sum(v for k, v in c.items() if k.endswith("|purchase")) == 11
    assert sum(v for k, v in c.items() if k.endswith("|revenue")) == pytest.approx(11 * 10.25)
    assert c[field_name("m1", "deal-hunter", True, "sessions")] == 10 + 7
    assert not book_a.pending and not book_b.pending


async def test_redis_outcomes_counted_while_redis_is_down_arrive_when_it_returns(
    make_counted, prefix: str, tmp_path: Path,
) -> None:
    with redis_server(tmp_path / "r") as server:
        store, book = await make_counted(server.url, flush_interval=0.01,
                                         breaker=Breaker(threshold=2, base=0.1, ceiling=0.2))
        _sessions(book, 5, "before", 0)
        await store.flush()
        server.stop()
        _sessions(book, 9, "down", 3)
        await asyncio.sleep(0.3)  # flushes fail meanwhile; the increments stay pending
        assert book.pending and store.stats()["up"] == 0
        server.start()  # empty: what it held before died with the process (no persistence)
        key = counters_key(prefix, "exp1")
        client = server.client()

        async def done() -> bool:
            return not book.pending and client.exists(key) == 1
        await _wait_for(done)
        got = {k.decode(): float(v) for k, v in client.hgetall(key).items()}
        client.close()
        assert sum(v for k, v in got.items() if k.endswith("|sessions")) == 9
        assert sum(v for k, v in got.items() if k.endswith("|purchase")) == 3
