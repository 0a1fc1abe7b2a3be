"""RedisStore against a real Redis: the shared 127.0.0.1:6379 with a unique key prefix per test
(deleted afterwards), or a private redis-server the test may stop and restart."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.errors import StoreUnavailable
from signals.events import EventKind, ShopperEvent
from signals.identity import IdentityCodec
from signals.redis_store import Breaker, RedisStore
from signals.state import DECAYED_AT, EVENTS, SYNC_FIELDS, SessionState
from signals.store import PROFILE_PREFIX
from tests.redisproc import (
    SHARED_URL,
    delete_prefix,
    redis_server,
    shared_redis,
    shared_value,
)

pytestmark = pytest.mark.redis

CODEC = IdentityCodec(b"k" * 32)
PROFILE = CODEC.pseudonym("u:alice")
PKEY = PROFILE_PREFIX + PROFILE
COMPARE = int(EventKind.COMPARE)


@pytest.fixture
async def make_store(prefix: str) -> AsyncIterator[Callable[..., RedisStore]]:
    stores: list[RedisStore] = []

    async def factory(url: str = SHARED_URL, **kwargs: object) -> RedisStore:
        store = RedisStore.connect(url, pseudonym=CODEC.pseudonym,
                                   prefix=str(kwargs.pop("prefix", prefix)),
                                   **kwargs)  # type: ignore[arg-type]
        await store.startup()
        stores.append(store)
        return store

    yield factory  # type: ignore[misc]
    for s in stores:
        await s.aclose(deadline=0.5)


def _compare(state: SessionState, ts: float, product: str = "p1") -> None:
    state.apply(ShopperEvent(EventKind.COMPARE, ts, product=product))


async def test_two_processes_add_to_one_profile_and_both_see_the_sum(make_store) -> None:
    a, b = await make_store(), await make_store()
    now = time.time()
    sa, sb = a.create(PKEY, now), b.create(PKEY, now)
    for i in range(3):
        _compare(sa, now, f"a{i}")
        a.changed(PKEY)
    for i in range(2):
        _compare(sb, now, f"b{i}")
        b.changed(PKEY)
    await a.flush()
    await b.flush()
    await a.flush()  # nothing pending: a's copy is refreshed only when it changes or ages
    a.changed(PKEY)
    await a.flush()
    for store in (a, b):
        state = store.get(PKEY, time.time())
        assert state is not None
        assert state.events_seen == 5
        assert 4.99 < state.v[COMPARE] * state.decay_factor(now) <= 5.0


async def test_fetch_brings_a_profile_another_process_wrote(make_store) -> None:
    a, b = await make_store(), await make_store()
    now = time.time()
    s = a.create(PKEY, now)
    _compare(s, now)
    a.changed(PKEY)
    await a.flush()
    assert b.get(PKEY, now) is None
    await b.fetch(PKEY)
    got = b.get(PKEY, now)
    assert got is not None and got.events_seen == 1
    assert b.stats()["fetch_hits"] == 1 and b.stats()["fetches"] == 1
    await b.fetch("never-seen-session")  # Redis has nothing: nothing is created
    assert b.get("never-seen-session", now) is None


async def test_merge_is_idempotent_and_can_be_undone(make_store, prefix: str) -> None:
    a, b = await make_store(), await make_store()
    now = time.time()
    session = a.create("session-token-a", now)
    for i in range(4):
        _compare(session, now, f"x{i}")
    assert a.merge(PKEY, "merge-1", session, "device-a", now)
    await a.flush()
    # The same identify seen again, by another process: nothing changes.
    b.merge(PKEY, "merge-1", session, "device-a", now)
    await b.flush()
    got = b.get(PKEY, time.time())
    assert got is not None and got.events_seen == 4
    merges = await b.merges_of(PROFILE, time.time())
    assert [m["id"] for m in merges] == ["merge-1"] and merges[0]["events"] == 4
    client = shared_redis()
    assert client.get(a.link_key("device-a")) == PROFILE.encode()
    assert await b.undo_merge(PROFILE, "merge-1", time.time()) == 1
    assert client.get(a.link_key("device-a")) is None  # the device is unlinked too
    assert await b.undo_merge(PROFILE, "merge-1", time.time()) == 0
    await b.fetch(PKEY)
    after = b.get(PKEY, time.time())
    assert after is not None and after.events_seen == 0 and after.v[COMPARE] < 1e-6
    assert await b.merges_of(PROFILE, time.time()) == []
    client.close()


async def test_undo_is_refused_after_the_undo_period(make_store) -> None:
    a = await make_store(undo_ttl=0.5)
    now = time.time()
    session = a.create("s", now)
    _compare(session, now)
    a.merge(PKEY, "m", session, "d", now)
    await a.flush()
    assert await a.undo_merge(PROFILE, "m", now + 5) == -1


async def test_keys_carry_ttls_and_expire(make_store, prefix: str) -> None:
    store = await make_store(session_ttl=1, profile_ttl=60)
    now = time.time()
    sx = store.create("session-x", now)
    sx.apply(ShopperEvent(EventKind.PRODUCT_VIEW, now, product="p9"))
    store.changed("session-x")
    _compare(store.create(PKEY, now), now)
    store.changed(PKEY)
    await store.flush()
    client = shared_redis()
    rid = "s" + CODEC.pseudonym("s:session-x")
    session_keys = [f"{prefix}:{{{rid}}}:h", f"{prefix}:{{{rid}}}:p"]
    assert all(0 < client.ttl(k) <= 1 for k in session_keys)
    assert 50 < client.ttl(f"{prefix}:{{{PROFILE}}}:h") <= 60
    assert "session-x" not in client.keys(f"{prefix}:*").__repr__()  # no raw token in keys
    for _ in range(100):  # Redis expires keys lazily and in sampled passes: poll
        if not any(client.exists(k) for k in session_keys):
            break
        await asyncio.sleep(0.1)
    assert not any(client.exists(k) for k in session_keys)
    other = await make_store()
    await other.fetch("session-x")
    assert other.get("session-x", time.time()) is None
    client.close()


async def test_script_is_reloaded_when_redis_forgot_it(make_store) -> None:
    store = await make_store()
    shared_redis().script_flush()
    now = time.time()
    _compare(store.create(PKEY, now), now)
    store.changed(PKEY)
    await store.flush()
    await store.fetch("other")
    assert store.stats()["flush_errors"] == 0


async def test_unreachable_redis_never_blocks_and_trips_the_breaker(make_store) -> None:
    store = await make_store("redis://127.0.0.1:1/0")  # nothing listens on port 1
    for i in range(20):
        await store.fetch(f"session-{i}")
    stats = store.stats()
    assert stats["up"] == 0 and stats["breaker_trips"] == 1
    assert stats["fetch_skipped"] >= 15  # the breaker stopped trying after the threshold


async def test_backlog_is_bounded_and_overflow_counted(make_store) -> None:
    store = await make_store("redis://127.0.0.1:1/0", backlog=3)
    now = time.time()
    for i in range(5):
        _compare(store.create(f"s{i}", now), now)
        store.changed(f"s{i}")
    stats = store.stats()
    assert stats["backlog"] == 3 and stats["backlog_overflow"] == 2


async def test_changes_made_while_redis_is_down_are_applied_when_it_returns(
    make_store, tmp_path: Path,
) -> None:
    with redis_server(tmp_path / "r") as server:
        store = await make_store(server.url, breaker=Breaker(threshold=2, base=0.1, ceiling=0.2),
                                 flush_interval=0.01)
        now = time.time()
        state = store.create(PKEY, now)
        _compare(state, now)
        store.changed(PKEY)
        await store.flush()
        server.stop()
        for i in range(5):
            _compare(state, time.time(), f"down{i}")
            store.changed(PKEY)
            await asyncio.sleep(0.05)
        assert store.stats()["backlog"] == 1 and store.stats()["up"] == 0
        assert state.events_seen == 6  # local state kept serving
        server.start()  # an empty Redis: what it held before is gone with the process
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stats = store.stats()
            if stats["backlog"] == 0 and stats["up"] == 1 and stats["flushed_keys"] >= 2:
                break
            await asyncio.sleep(0.05)
        assert store.stats()["backlog"] == 0 and store.stats()["up"] == 1
        client = server.client()
        events = shared_value(client, f"{store.prefix}:{{{PROFILE}}}:h", "v17")
        assert events == 5.0  # the five changes made during the outage
        client.close()


async def test_cluster_store_round_trip(make_store, tmp_path: Path) -> None:
    from tests.redisproc import redis_cluster

    with redis_cluster(tmp_path / "cluster") as nodes:
        url = f"redis+cluster://127.0.0.1:{nodes[0].port}"
        # A deadline a loaded machine meets: a fresh cluster's first calls can take > 50 ms.
        a, b = await make_store(url, timeout=1.0), await make_store(url, timeout=1.0)
        now = time.time()
        keys = [PROFILE_PREFIX + CODEC.pseudonym(f"u:{i}") for i in range(20)]
        for key in keys:  # spread over the three masters' slots
            _compare(a.create(key, now), now)
            a.changed(key)
        session = a.create("sess", now)
        _compare(session, now)
        a.merge(keys[0], "m1", session, "dev", now)
        await a.flush()
        for key in keys:
            await b.fetch(key)
            got = b.get(key, now)
            assert got is not None and got.events_seen == (2 if key == keys[0] else 1)
        owners = {n.port for n in nodes if n.client().dbsize() > 0}
        assert len(owners) == 3  # the profiles really are spread over the cluster
        assert int(EVENTS) > 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([k for k in EventKind if k != EventKind.DWELL]),
                          st.floats(min_value=0, max_value=3600),
                          st.one_of(st.none(), st.text(min_size=1, max_size=12))),
                min_size=1, max_size=40))
def test_any_state_survives_the_round_trip_through_redis(events: list) -> None:
    """Whatever a session did, what another process reads back from Redis is the same shared
    state: counters (to float precision), counts, distinct products and categories."""
    client = shared_redis()
    prefix = f"igtest{uuid.uuid4().hex[:10]}"

    async def run() -> tuple[SessionState, SessionState]:
        a = RedisStore.connect(SHARED_URL, pseudonym=CODEC.pseudonym, prefix=prefix)
        b = RedisStore.connect(SHARED_URL, pseudonym=CODEC.pseudonym, prefix=prefix)
        await a.startup()
        await b.startup()
        try:
            t0 = 1_700_000_000.0
            state = a.create(PKEY, t0)
            for kind, dt, name in sorted(events, key=lambda e: e[1]):
                state.apply(ShopperEvent(kind, t0 + dt, product=name, category=name))
            a.changed(PKEY)
            await a.flush()
            await b.fetch(PKEY)
            got = b.get(PKEY, t0)
            assert got is not None
            return state, got
        finally:
            await a.aclose(deadline=0.5)
            await b.aclose(deadline=0.5)

    try:
        sent, got = asyncio.run(run())
    finally:
        delete_prefix(client, prefix)
        client.close()
    now = sent.v[DECAYED_AT]
    for i in SYNC_FIELDS:
        want = sent.v[i] * sent.decay_factor(now)
        have = got.v[i] * got.decay_factor(now)
        assert math.isclose(have, want, rel_tol=1e-9, abs_tol=1e-9), i
    assert got.events_seen == sent.events_seen
    assert {h for h in got.products if h} == {h for h in sent.products if h}
    assert {h for h in got.categories if h} == {h for h in sent.categories if h}


async def test_a_merge_made_while_a_flush_is_in_flight_counts_once(make_store) -> None:
    a, b = await make_store(), await make_store()
    now = time.time()
    profile = a.create(PKEY, now)
    _compare(profile, now, "own")
    a.changed(PKEY)
    in_flight = asyncio.get_running_loop().create_task(a.flush())
    await asyncio.sleep(0)  # the flush has taken its snapshot and is waiting for Redis
    session = a.create("session-b", now)
    for i in range(4):
        _compare(session, now, f"s{i}")
    assert a.merge(PKEY, "merge-x", session, "device-b", now)
    await in_flight
    await a.flush()
    a.changed(PKEY)
    await a.flush()  # once more: nothing may be sent twice
    await b.fetch(PKEY)
    for store in (a, b):
        got = store.get(PKEY, now)
        assert got is not None and got.events_seen == 5
        assert 4.99 < got.v[COMPARE] * got.decay_factor(now) <= 5.0


class _ReplyCutter:
    """A TCP relay to the shared Redis on loopback. Armed, it lets the next command through,
    waits for Redis's reply (so the command has run) and closes the client's connection instead
    of passing the reply on: the client cannot know whether its write was applied."""

    def __init__(self) -> None:
        self.armed = False
        self.cut = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers += [cw, uw]

        async def up() -> None:
            while data := await cr.read(65536):
                uw.write(data)
                await uw.drain()

        async def down() -> None:
            while data := await ur.read(65536):
                if self.armed:
                    self.armed = False
                    self.cut += 1
                    cw.close()
                    uw.close()
                    return
                cw.write(data)
                await cw.drain()

        tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        cw.close()
        uw.close()

    async def close(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()


async def test_a_flush_whose_reply_is_lost_is_applied_once_when_sent_again(
        make_store, prefix: str) -> None:
    relay = _ReplyCutter()
    url = await relay.start()
    try:
        store = await make_store(url, timeout=2.0)
        now = time.time()
        state = store.create(PKEY, now)
        for i in range(3):
            _compare(state, now, f"p{i}")
        store.changed(PKEY)
        relay.armed = True
        with pytest.raises(StoreUnavailable):
            await store.flush()  # Redis ran the script; its answer never came back
        assert relay.cut == 1
        _compare(state, now, "after")  # more arrives before the retry
        store.changed(PKEY)
        await store.flush()  # the same delta again, plus what is new
        key = f"{prefix}:{{{PROFILE}}}:h"
        client = shared_redis()
        events = shared_value(client, key, "v17")
        compares = shared_value(client, key, "v4")
        client.close()
        assert events == 4
        assert 3.99 < compares <= 4.0
        got = store.get(PKEY, time.time())
        assert got is not None and got.events_seen == 4
    finally:
        await relay.close()
