"""The lean Redis client (signals/resp.py) against a real Redis, and against servers that
misbehave: replies in order for concurrent callers, error replies as redis-py's types,
deadlines, lost connections, the URL's database and password."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from signals.resp import LeanRedis, lean_for
from tests.redisproc import redis_server, shared_redis

pytestmark = pytest.mark.redis


def _key() -> str:
    return f"igresp{uuid.uuid4().hex[:10]}"


def _client(url: str = "redis://127.0.0.1:6379/0", timeout: float = 1.0) -> LeanRedis:
    lean = lean_for(url, timeout)
    assert lean is not None
    return lean


async def _concurrent_callers_get_their_own_replies() -> None:
    lean = _client()
    key = _key()
    try:
        await asyncio.gather(*(lean.execute_command("SET", f"{key}:{i}", i) for i in range(200)))
        got = await asyncio.gather(*(lean.execute_command("GET", f"{key}:{i}")
                                     for i in range(200)))
        assert got == [str(i).encode() for i in range(200)]
    finally:
        shared_redis().delete(*(f"{key}:{i}" for i in range(200)))
        await lean.aclose()


async def test_concurrent_callers_get_their_own_replies_in_order() -> None:
    await _concurrent_callers_get_their_own_replies()


def test_the_same_under_uvloop() -> None:
    # The proxy runs on uvloop, whose transports are not asyncio's classes.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_concurrent_callers_get_their_own_replies())


async def test_a_pipeline_keeps_an_error_reply_in_its_commands_place() -> None:
    lean = _client()
    key = _key()
    try:
        pipe = lean.pipeline(transaction=False)
        pipe.set(f"{key}:s", "text", ex=60).hincrby(f"{key}:s", "f", 1)
        pipe.hincrby(f"{key}:h", "f", 2).hincrbyfloat(f"{key}:h", "g", 0.5)
        pipe.expire(f"{key}:h", 60).delete(f"{key}:gone")
        replies = await pipe.execute(raise_on_error=False)
        assert replies[0] == b"OK"
        assert isinstance(replies[1], ResponseError) and "WRONGTYPE" in str(replies[1])
        assert replies[2:] == [2, b"0.5", 1, 0]
        pipe.hincrby(f"{key}:s", "f", 1)
        with pytest.raises(ResponseError):
            await pipe.execute()
        assert 0 < shared_redis().ttl(f"{key}:h") <= 60
    finally:
        shared_redis().delete(f"{key}:s", f"{key}:h")
        await lean.aclose()


async def test_the_write_behind_commands_write_what_redis_py_would_read() -> None:
    lean = _client()
    key = _key()
    try:
        pipe = lean.pipeline()
        pipe.hset(f"{key}:h", mapping={"a|w1": 3, "b|w1": 0.25})
        for i in range(5):
            pipe.xadd(f"{key}:x", {"r": f'{{"n": {i}}}'}, maxlen=1000)
        pipe.xtrim(f"{key}:x", minid="0")
        replies = await pipe.execute()
        assert replies[0] == 2 and replies[-1] == 0
        r = shared_redis()
        assert r.hgetall(f"{key}:h") == {b"a|w1": b"3", b"b|w1": b"0.25"}
        assert [f[b"r"] for _, f in r.xrange(f"{key}:x")] == [
            f'{{"n": {i}}}'.encode() for i in range(5)]
    finally:
        shared_redis().delete(f"{key}:h", f"{key}:x")
        await lean.aclose()


async def test_an_unknown_script_is_a_noscript_error() -> None:
    lean = _client()
    try:
        with pytest.raises(NoScriptError):
            await lean.execute_command("EVALSHA", "0" * 40, 0)
        # The connection is still good after an error reply.
        assert await lean.execute_command("PING") == b"PONG"
    finally:
        await lean.aclose()


async def test_the_urls_database_is_selected() -> None:
    lean = _client("redis://127.0.0.1:6379/14")
    key = _key()
    try:
        await lean.execute_command("SET", key, "x", "EX", 60)
        import redis

        assert redis.Redis(port=6379, db=14).get(key) == b"x"
        assert shared_redis().get(key) is None  # not in database 0
    finally:
        import redis

        redis.Redis(port=6379, db=14).delete(key)
        await lean.aclose()


async def test_a_password_is_sent_and_a_wrong_one_refused(tmp_path: Path) -> None:
    with redis_server(tmp_path / "r") as server:
        server.client().config_set("requirepass", "s3cret-pass")
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        good = _client(f"redis://:s3cret-pass@127.0.0.1:{port}/0")
        bad = _client(f"redis://:wrong@127.0.0.1:{port}/0")
        try:
            assert await good.execute_command("PING") == b"PONG"
            with pytest.raises(RedisConnectionError, match="refused"):
                await bad.execute_command("PING")
        finally:
            await good.aclose()
            await bad.aclose()


async def test_no_server_is_a_connection_error() -> None:
    lean = _client("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(RedisConnectionError):
        await lean.execute_command("PING")


async def test_a_silent_server_times_out_and_the_next_call_opens_a_new_connection() -> None:
    opened: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(writer)
        await reader.read(1 << 16)  # read the command, never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lean = _client(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    try:
        t0 = time.monotonic()
        results = await asyncio.gather(lean.execute_command("PING"),
                                       lean.execute_command("PING"), return_exceptions=True)
        assert all(isinstance(r, RedisTimeoutError) for r in results)  # both waiters failed
        assert time.monotonic() - t0 < 2.0
        with pytest.raises(RedisTimeoutError):
            await lean.execute_command("PING")
        assert len(opened) == 2  # the timed-out connection was dropped, a new one opened
    finally:
        await lean.aclose()
        for w in opened:
            w.close()
        server.close()


async def test_a_connection_lost_mid_reply_fails_its_waiters(tmp_path: Path) -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        writer.write(b"$10\r\nhal")  # a bulk string cut short, then the connection closes
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(half, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lean = _client(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(RedisConnectionError):
            await lean.execute_command("GET", "k")
    finally:
        await lean.aclose()
        server.close()


def test_urls_the_lean_client_does_not_serve_fall_back_to_redis_py() -> None:
    assert lean_for("rediss://127.0.0.1:6379/0", 0.05) is None
    assert lean_for("redis+cluster://127.0.0.1:7000", 0.05) is None
    assert lean_for("redis://127.0.0.1:6379/0?ssl_cert_reqs=none", 0.05) is None
    unix = lean_for("unix:///tmp/redis.sock?db=3", 0.05)
    assert unix is not None and unix.path == "/tmp/redis.sock" and unix.db == 3
