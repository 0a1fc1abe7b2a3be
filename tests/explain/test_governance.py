"""Governance off the request path: one tuple onto a bounded queue, one task drains it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from explain.governance import Governance, Observation
from proxy.app import build_runtime
from proxy.bench.micro import BROWSER_UA, PATHS
from proxy.engine import Decision


def _runtime(tmp_path: Path, **extra: Any) -> Any:
    rt = build_runtime({"secret": "g" * 32, "bot_max_rate": 1e12, "data_dir": str(tmp_path),
                        "budget_ms": 5000.0,
                        **extra})
    rt.registry.startup()
    return rt


def _cookie(rt: Any) -> bytes:
    token: str = rt.engine.codec.new_token()
    return b"ig_sid=" + token.encode()


def _shop(rt: Any, cookie: bytes, n: int, t0: float = 1e6) -> list[Any]:
    clock = [t0]
    rt.engine.clock = lambda: clock[0]
    out = []
    for i in range(n):
        clock[0] += 5.0
        path, qs = PATHS[i % len(PATHS)]
        out.append(rt.engine.classify("GET", path, qs, [cookie], BROWSER_UA, True, True, False))
    return out


def test_classify_only_queues_and_a_reader_drains(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    gov: Governance = rt.governance
    cookie = _cookie(rt)
    decisions = _shop(rt, cookie, 8)
    assert all(isinstance(d, Decision) for d in decisions)
    # Nothing was booked on the request path: the journal is empty, the queue holds them.
    assert gov.booked == 0 and len(gov.journal) == 0
    assert gov.stats()["depth"] == 8.0
    assert gov.drain() == 8
    session = decisions[0].session
    entry = gov.journal.get(session)
    assert entry is not None and entry.decisions == 8
    assert sum(gov.live.counts(decisions[-1].now).values()) == 8


def test_decision_carries_what_the_kernel_computed(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    decisions = _shop(rt, _cookie(rt), 6)
    unscored, scored = decisions[0], decisions[-1]
    assert unscored.winner == -1  # too few events: not scored
    assert scored.winner >= 0 and scored.runner >= 0 and scored.runner != scored.winner
    # 0 when hysteresis holds a class that is no longer the nearest one
    assert 0.0 <= scored.confidence <= 1.0
    # The queued record holds copies, so a later request cannot change them.
    gov: Governance = rt.governance
    rec = Observation(*list(gov._queue)[-1])
    assert rec.winner == scored.winner and rec.confidence == scored.confidence
    assert rec.d2 is not rt.engine.active.scorer.d2 and rec.x is not rt.engine.active.x


def test_a_full_queue_drops_and_counts_and_the_metric_says_so(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    gov: Governance = rt.governance
    gov.capacity = 3
    _shop(rt, _cookie(rt), 7)
    assert gov.stats()["depth"] == 3.0 and gov.dropped == 4
    text = rt.engine.metrics.render().decode()
    assert 'intentgate_governance{stat="dropped"} 4.0' in text
    assert gov.drain() == 3 and gov.booked == 3


def test_the_drain_task_books_within_a_running_loop(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    gov: Governance = rt.governance

    async def main() -> None:
        _shop(rt, _cookie(rt), 5)
        for _ in range(500):
            if gov.booked == 5:
                break
            await asyncio.sleep(0.01)
        assert gov.booked == 5 and gov.stats()["depth"] == 0.0
        _shop(rt, _cookie(rt), 4, t0=2e6)  # a second batch wakes the same task
        for _ in range(500):
            if gov.booked == 9:
                break
            await asyncio.sleep(0.01)
        assert gov.booked == 9
        await gov.aclose()

    asyncio.run(main())


def test_bookkeeping_failures_are_contained(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    gov: Governance = rt.governance
    _shop(rt, _cookie(rt), 4)
    gov._queue.appendleft(("broken",))  # type: ignore[arg-type]
    booked = gov.drain()
    assert booked == 5 and gov.errors == 1
    with pytest.raises(ValueError):
        Governance(pseudonym=str, capacity=0)
