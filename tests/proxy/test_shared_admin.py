"""The admin state in Redis (real Redis at 6379, a unique prefix): written behind, summed over
workers, and idempotent when a reply is lost after Redis applied a write."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.admin.shared import GLOBAL, SharedAdminState
from proxy.app import build_runtime
from proxy.bench.micro import BROWSER_UA, PATHS
from tests.redisproc import delete_prefix, shared_redis

pytestmark = pytest.mark.redis


def _worker(tmp_path: Path, name: str, client: Any, prefix: str) -> tuple[Any, SharedAdminState]:
    rt = build_runtime({"secret": "s" * 32, "bot_max_rate": 1e12, "data_dir": str(tmp_path / name),
                        "budget_ms": 5000.0,
                        "audit": False})
    rt.registry.startup()
    shared = SharedAdminState(client, rt.governance, prefix=prefix, worker=name)
    rt.governance.sink = shared.journal_batch
    return rt, shared


def _shop(rt: Any, cookie: bytes, n: int) -> None:
    for i in range(n):
        path, qs = PATHS[i % len(PATHS)]
        rt.engine.classify("GET", path, qs, [cookie], BROWSER_UA, True, True, False)


def test_two_workers_one_picture_and_a_resent_write_counts_once(tmp_path: Path) -> None:
    prefix = f"igadm{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        client = Redis(host="127.0.0.1", port=6379, socket_timeout=2)
        try:
            rt1, w1 = _worker(tmp_path, "w1", client, prefix)
            rt2, w2 = _worker(tmp_path, "w2", client, prefix)
            token = rt1.engine.codec.new_token()
            cookie = b"ig_sid=" + token.encode()
            _shop(rt1, cookie, 4)   # one shopper, served by both workers
            _shop(rt2, cookie, 3)
            assert await w1.flush() and await w2.flush()
            now = rt1.engine.clock()
            mix, scope = await w1.live(now)
            assert scope == GLOBAL and sum(mix.counts(now).values()) == 7
            mix2, _ = await w2.live(now)
            assert mix2.counts(now) == mix.counts(now)
            pseudonym = rt1.governance.pseudonym("s:" + token)
            view, _ = await w2.journal(pseudonym)
            assert view is not None and view["decisions"] == 7 and len(view["timeline"]) == 7

            # A reply lost after Redis applied the writes: the same batch and the same absolute
            # values are sent again, and nothing is counted twice.
            _shop(rt1, cookie, 2)
            rt1.governance.drain()
            w1._seq += 1
            batch = w1._pending
            w1._pending = {}
            await w1._send_journals(w1._seq, batch)
            await w1._send_journals(w1._seq, batch)
            w1._written = {}
            assert await w1.flush() and await w1.flush()
            view, _ = await w1.journal(pseudonym)
            assert view is not None and view["decisions"] == 9 and len(view["timeline"]) == 9
            mix, _ = await w2.live(now)
            assert sum(mix.counts(now).values()) == 9
            monitor, _, scope = await w2.drift(rt1.engine.active.model, now)
            # Scored (3+ events): w1 twice of 4, w2 once of 3 (its own state), w1 twice more.
            assert scope == GLOBAL and monitor.report({}, now)["vectors"] == 5
        finally:
            await client.aclose()

    try:
        asyncio.run(main())
    finally:
        sync = shared_redis()
        delete_prefix(sync, prefix)
        sync.close()


def test_journal_batch_writes_each_event_as_the_timeline_shows_it(tmp_path: Path) -> None:
    import orjson

    from explain.explanation import step_of

    rt, shared = _worker(tmp_path, "w", None, "igadm-unused")
    token = rt.engine.codec.new_token()
    _shop(rt, b"ig_sid=" + token.encode(), 3)
    queued = list(rt.governance._queue)
    rt.governance.drain()
    (row,) = shared._pending.values()
    # The shared timeline's entries are the local journal's steps, field for field.
    assert [orjson.loads(e) for e in row[3]] == [step_of(rec[3])._asdict() for rec in queued]
