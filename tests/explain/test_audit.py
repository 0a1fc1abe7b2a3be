"""The audit log: policy, bounded buffer, drain task, JSONL files and the Redis Stream sink."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from explain.audit import AuditLog, AuditPolicy, AuditRecord, JsonlSink, RedisStreamSink
from explain.errors import AuditSinkError
from tests.servers import free_port

NAMES = ("comparisons", "price_sorts")


def record(ts: float, cls: str = "comparison-shopper", profile: str = "p1",
           session: str = "s1", previous: str | None = "undetermined") -> AuditRecord:
    return AuditRecord(ts=ts, session=session, profile=profile, model="2026-01-01.abcdef",
                       cls=cls, confidence=0.8, previous=previous, event="compare",
                       signals=NAMES, contributions=[1.5, 0.5], raw=[4.0, 0.0], x=[1.6, 0.0])


def test_policy_records_every_class_change() -> None:
    policy = AuditPolicy(sample_rate=0.0)
    assert policy.should_record("s", 1, changed=True)
    assert not any(policy.should_record("s", i, changed=False) for i in range(1000))


def test_policy_samples_unchanged_decisions_deterministically_at_the_rate() -> None:
    policy = AuditPolicy(sample_rate=0.25)
    picks = [policy.should_record(f"session-{i % 50}", i, changed=False) for i in range(8000)]
    again = [policy.should_record(f"session-{i % 50}", i, changed=False) for i in range(8000)]
    assert picks == again
    assert 0.22 < sum(picks) / len(picks) < 0.28
    assert all(AuditPolicy(1.0).should_record("s", i, False) for i in range(100))


def test_policy_rejects_a_rate_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        AuditPolicy(1.5)


def test_record_dict_holds_every_signal_with_contribution_and_raw_value() -> None:
    d = record(10.0).to_dict()
    assert d["class"] == "comparison-shopper" and d["changed"] is True
    assert d["signals"] == [
        {"signal": "comparisons", "contribution": 1.5, "raw_value": 4.0},
        {"signal": "price_sorts", "contribution": 0.5, "raw_value": 0.0},
    ]
    assert d["x"] == [1.6, 0.0] and d["profile"] == "p1" and d["model"] == "2026-01-01.abcdef"


def test_submit_drops_and_counts_when_the_buffer_is_full(tmp_path: Path) -> None:
    log = AuditLog(JsonlSink(tmp_path), capacity=3)
    accepted = [log.submit(record(float(i))) for i in range(5)]  # no loop: nothing drains
    assert accepted == [True, True, True, False, False]
    assert log.depth == 3 and log.dropped == 2


async def test_drain_task_writes_batches_to_jsonl(tmp_path: Path) -> None:
    log = AuditLog(JsonlSink(tmp_path), batch_size=2)
    for i in range(5):
        log.submit(record(100.0 + i))
    await log.flush()
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert len(lines) == 5 and log.written == 5 and log.depth == 0
    ids = [orjson.loads(line)["id"] for line in lines]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == 5
    await log.aclose()


async def test_query_is_newest_first_filters_and_pages_with_a_cursor(tmp_path: Path) -> None:
    log = AuditLog(JsonlSink(tmp_path))
    for i in range(10):
        log.submit(record(1000.0 + i, cls="deal-hunter" if i % 2 else "comparison-shopper"))
    page, cursor = await log.query(limit=4)
    assert [r["ts"] for r in page] == [1009.0, 1008.0, 1007.0, 1006.0] and cursor
    page2, _ = await log.query(limit=4, cursor=cursor)
    assert [r["ts"] for r in page2] == [1005.0, 1004.0, 1003.0, 1002.0]
    deals, _ = await log.query(cls="deal-hunter", limit=100)
    assert {r["class"] for r in deals} == {"deal-hunter"} and len(deals) == 5
    recent, last = await log.query(since=1007.0, limit=100)
    assert [r["ts"] for r in recent] == [1009.0, 1008.0, 1007.0] and last is None
    await log.aclose()


async def test_erase_removes_a_profiles_records_stored_and_buffered(tmp_path: Path) -> None:
    log = AuditLog(JsonlSink(tmp_path, max_bytes=800, keep=5))
    for i in range(6):
        log.submit(record(float(i), profile="gone" if i % 2 else "kept"))
    await log.flush()
    log.submit(record(7.0, profile="gone"))  # still in the buffer
    assert await log.erase("gone") == 4
    assert await log.erase("gone") == 0
    left, _ = await log.query(limit=100)
    assert {r["profile"] for r in left} == {"kept"} and len(left) == 3
    text = b"".join(p.read_bytes() for p in tmp_path.glob("audit.jsonl*"))
    assert b'"gone"' not in text
    await log.aclose()


def test_jsonl_sink_rotates_at_the_size_cap_and_keeps_n_files(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, max_bytes=600, keep=3, retention_s=None)
    for i in range(40):
        assert sink.write_sync([record(float(i)).to_dict()]) == 1
    names = {p.name for p in tmp_path.iterdir()}
    assert names <= {"audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"} and len(names) >= 2
    files = sink.files()
    assert orjson.loads(files[0].read_bytes().splitlines()[-1])["ts"] == 39.0
    kept = [orjson.loads(line)["ts"] for p in files for line in p.read_bytes().splitlines()]
    assert 0.0 not in kept and len(kept) < 40  # the oldest file fell off


def test_jsonl_sink_deletes_rotated_files_past_the_retention(tmp_path: Path) -> None:
    now = [1_000_000.0]
    sink = JsonlSink(tmp_path, max_bytes=600, keep=4, retention_s=3600.0, clock=lambda: now[0])
    for i in range(6):
        sink.write_sync([record(float(i)).to_dict()])
    rotated = sorted(tmp_path.glob("audit.jsonl.*"))
    assert rotated
    for path in rotated:
        os.utime(path, (now[0] - 7200, now[0] - 7200))
    assert sink.prune() == len(rotated)
    assert not list(tmp_path.glob("audit.jsonl.*"))


async def test_a_failing_sink_is_counted_never_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    log = AuditLog(JsonlSink(blocker / "audit"))
    for i in range(3):
        log.submit(record(float(i)))
    await log.flush()
    assert log.written == 0 and log.write_errors == 3 and log.sink.errors == 3  # type: ignore[attr-defined]


async def test_submit_starts_the_drain_task_on_the_running_loop(tmp_path: Path) -> None:
    log = AuditLog(JsonlSink(tmp_path))
    log.submit(record(1.0))
    assert log._task is not None
    await log.aclose()
    assert (tmp_path / "audit.jsonl").read_bytes().count(b"\n") == 1


# -- Redis Stream ---------------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[object]:
    redis = pytest.importorskip("redis.asyncio")
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"no Redis at 127.0.0.1:6379: {exc!r}")
    keys: list[str] = []
    client.test_keys = keys  # type: ignore[attr-defined]
    yield client
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _key(client: object) -> str:
    key = f"igtest:{uuid.uuid4().hex}:audit"
    client.test_keys.append(key)  # type: ignore[attr-defined]
    return key


@pytest.mark.redis
async def test_redis_sink_writes_queries_and_erases(redis_client: object) -> None:
    sink = RedisStreamSink(redis_client, key=_key(redis_client), maxlen=1000)
    log = AuditLog(sink)
    for i in range(12):
        log.submit(record(float(i), cls="deal-hunter" if i % 3 == 0 else "comparison-shopper",
                          profile="gone" if i % 4 == 0 else "kept"))
    page, cursor = await log.query(limit=5)
    assert len(page) == 5 and [r["ts"] for r in page] == [11.0, 10.0, 9.0, 8.0, 7.0]
    rest, _ = await log.query(limit=100, cursor=cursor)
    assert [r["ts"] for r in rest] == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    deals, _ = await log.query(cls="deal-hunter", limit=100)
    assert len(deals) == 4 and {r["class"] for r in deals} == {"deal-hunter"}
    assert await log.erase("gone") == 3
    left, _ = await log.query(limit=100)
    assert len(left) == 9 and all(r["profile"] == "kept" for r in left)
    await log.aclose()


@pytest.mark.redis
async def test_redis_sink_caps_the_stream_length(redis_client: object) -> None:
    key = _key(redis_client)
    sink = RedisStreamSink(redis_client, key=key, maxlen=50)
    for i in range(30):
        await sink.write([record(float(j)).to_dict() for j in range(i * 20, i * 20 + 20)])
    length = await redis_client.xlen(key)  # type: ignore[attr-defined]
    assert 50 <= length < 600  # MAXLEN ~: trimmed in whole macro nodes, never unbounded


async def test_redis_sink_errors_are_counted_on_write_and_raised_on_query() -> None:
    redis = pytest.importorskip("redis.asyncio")
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5,
                         retry=Retry(NoBackoff(), 0))
    sink = RedisStreamSink(client, key="igtest:down")
    log = AuditLog(sink)
    log.submit(record(1.0))
    await log.flush()
    assert sink.errors == 1 and log.written == 0
    with pytest.raises(AuditSinkError):
        await log.query()
    await client.aclose()


async def test_two_writers_one_file_each_every_record_read_once_and_erasure_loses_none(
    tmp_path: Path,
) -> None:
    a = JsonlSink(tmp_path, max_bytes=4000, keep=20, retention_s=None, writer=101)
    b = JsonlSink(tmp_path, max_bytes=4000, keep=20, retention_s=None, writer=202)
    for i in range(60):  # the same millisecond on both writers: ids still differ
        ts = 1000.0 + i // 3
        await a.write([record(ts, profile="gone" if i % 10 == 0 else "p1").to_dict()])
        await b.write([record(ts, profile="p2").to_dict()])
    assert {p.name.split(".")[0] for p in a.files()} == {"audit-101", "audit-202"}
    assert len(a.files()) > 2  # each rotated its own files

    async def read_all(sink: JsonlSink) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            page, cursor = await sink.query(None, None, 7, cursor)
            ids += [r["id"] for r in page]
            if cursor is None:
                return ids

    ids = await read_all(b)  # any writer reads every writer's files
    assert len(ids) == 120 and len(set(ids)) == 120
    assert {i.rsplit("-", 1)[1] for i in ids} == {"101", "202"}
    # Erasure by writer b rewrites a's files in place; a keeps appending to the same files.
    assert await b.erase("gone") == 6
    await a.write([record(2000.0).to_dict()])
    ids = await read_all(a)
    assert len(ids) == 115 and len(set(ids)) == 115
    await a.aclose()
    await b.aclose()
