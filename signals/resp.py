"""A lean Redis client for the store's hot calls: the request path's one fetch and the
write-behind flush.

redis-py costs ~130 µs of client CPU per ``EVALSHA`` round trip (a connection taken from and
returned to a pool, every argument encoded in Python, a task-safe reader); this client costs ~20
(``docs/redis-store.md``). It is what the own HTTP client is to aiohttp: one ``asyncio.Protocol``
connection, commands packed by hiredis in C, replies parsed by ``hiredis.Reader``, callers'
futures answered in order (RESP replies come back in the order commands went out, so any number
of callers pipeline on the one connection), and one lazily checked timer for every deadline.

It speaks RESP2 to one server (``redis://`` or ``unix://``, with the URL's password and
database) and offers only what ``RedisStore`` sends on those paths: ``execute_command`` and a
non-transactional ``pipeline`` with the commands its riders queue. Everything else (scripts
loading, admin reads, Cluster, TLS) stays on redis-py. Errors match redis-py's types, so callers
cannot tell which client answered: a reply error is a ``ResponseError`` (``NoScriptError`` for
NOSCRIPT), no reply within the deadline is a ``TimeoutError``, a lost or refused connection a
``ConnectionError``. A connection that timed out or broke is closed with every call waiting on
it failed; the next call opens a new one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


def lean_for(url: str, timeout: float) -> LeanRedis | None:
    """A lean client for ``url``, or None where redis-py must serve it (TLS, Cluster, options
    this client does not speak)."""
    if not url.startswith(("redis://", "unix://")):
        return None
    try:
        opts = parse_url(url)
    except ValueError:
        return None
    known = {"host", "port", "db", "password", "username", "path", "connection_class"}
    if set(opts) - known:
        return None
    return LeanRedis(host=str(opts.get("host", "127.0.0.1")), port=int(opts.get("port", 6379)),
                     path=opts.get("path"), db=int(opts.get("db", 0) or 0),
                     username=opts.get("username"), password=opts.get("password"),
                     timeout=timeout)


def _error(reply: ResponseError) -> ResponseError:
    text = str(reply)
    if text.startswith("NOSCRIPT"):
        return NoScriptError(text)
    return reply


class _Waiter:
    """Callers waiting for replies, in the order their commands went out."""

    __slots__ = ("future", "left", "replies", "deadline")

    def __init__(self, future: asyncio.Future[Any], count: int, deadline: float) -> None:
        self.future = future
        self.left = count
        self.replies: list[Any] | None = [] if count > 1 else None
        self.deadline = deadline


class _Connection(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiting: deque[_Waiter] = deque()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.timer: asyncio.TimerHandle | None = None
        self.broken: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, packed: bytes, count: int) -> asyncio.Future[Any]:
        """Write ``count`` packed commands; the future gets the reply (``count`` = 1) or the
        list of replies, an error reply in place of its command's."""
        future = self.loop.create_future()
        if self.broken is not None or self.transport is None:
            future.set_exception(RedisConnectionError(f"redis connection lost: {self.broken!r}"))
            return future
        self.waiting.append(_Waiter(future, count, self.loop.time() + self.timeout))
        self.transport.write(packed)
        if self.timer is None:
            self.timer = self.loop.call_later(self.timeout, self._check)
        return future

    async def many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """``commands`` in one write; their replies, an error reply in its command's place."""
        if len(commands) == 1:
            return [await self.send(hiredis.pack_command(commands[0]), 1)]
        replies: list[Any] = await self.send(b"".join(map(hiredis.pack_command, commands)),
                                             len(commands))
        return replies

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        while True:
            reply = reader.gets()
            if reply is False:
                return
            if isinstance(reply, ResponseError):
                reply = _error(reply)
            if not waiting:  # a reply nobody asked for: the stream cannot be trusted
                self._fail(RedisConnectionError("redis sent a reply nobody asked for"))
                return
            head = waiting[0]
            if head.replies is None:
                waiting.popleft()
                if not head.future.done():
                    head.future.set_result(reply)
                continue
            head.replies.append(reply)
            head.left -= 1
            if head.left == 0:
                waiting.popleft()
                if not head.future.done():
                    head.future.set_result(head.replies)

    def _check(self) -> None:
        """The one timer: fires at the oldest waiter's deadline (lazily re-armed)."""
        self.timer = None
        if not self.waiting:
            return
        due = self.waiting[0].deadline
        if self.loop.time() >= due:
            self._fail(RedisTimeoutError(f"redis: no reply within {self.timeout:g} s"))
        else:
            self.timer = self.loop.call_at(due, self._check)

    def _fail(self, exc: Exception) -> None:
        self.broken = exc
        while self.waiting:
            w = self.waiting.popleft()
            if not w.future.done():
                w.future.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.broken is None:
            self._fail(RedisConnectionError(f"redis connection lost: {exc!r}"))
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class LeanRedis:
    """See the module docstring. One connection, opened on first use and again after a
    failure; ``timeout`` bounds connecting and every reply."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None,
                 db: int = 0, username: str | None = None, password: str | None = None,
                 timeout: float = 0.05) -> None:
        self.host, self.port, self.path = host, port, path
        self.db = db
        self.username, self.password = username, password
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._opening: asyncio.Future[_Connection] | None = None

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and conn.broken is None:
            return conn
        if self._opening is not None:
            return await asyncio.shield(self._opening)
        self._opening = asyncio.get_running_loop().create_future()
        try:
            conn = await asyncio.wait_for(self._open(), self.timeout)
        except Exception as exc:
            err = exc if isinstance(exc, RedisConnectionError | RedisTimeoutError | ResponseError) \
                else RedisConnectionError(f"redis: cannot connect: {exc!r}")
            self._opening.set_exception(err)
            self._opening.exception()  # retrieved: no "never retrieved" warning when alone
            self._opening = None
            raise err from exc
        self._conn = conn
        self._opening.set_result(conn)
        self._opening = None
        return conn

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        timeout = self.timeout
        if self.path:
            _, conn = await loop.create_unix_connection(lambda: _Connection(timeout), self.path)
        else:
            _, conn = await loop.create_connection(lambda: _Connection(timeout),
                                                   self.host, self.port)
        try:
            await self._setup(conn)
        except BaseException:  # refused, or the connect deadline cancelled the setup
            if conn.transport is not None:
                conn.transport.abort()
            raise
        return conn

    async def _setup(self, conn: _Connection) -> None:
        setup: list[tuple[Any, ...]] = []
        if self.password is not None:
            setup.append(("AUTH", self.username, self.password) if self.username
                         else ("AUTH", self.password))
        if self.db:
            setup.append(("SELECT", self.db))
        if setup:
            for r in await conn.many(setup):
                if isinstance(r, Exception):
                    raise RedisConnectionError(f"redis refused the connection: {r}")

    async def execute_command(self, *args: Any) -> Any:
        conn = await self._connection()
        reply = await conn.send(hiredis.pack_command(args), 1)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def pipeline(self, transaction: bool = False) -> LeanPipeline:
        if transaction:
            raise ValueError("the lean client sends no MULTI/EXEC pipelines")
        return LeanPipeline(self)

    async def send_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """``commands`` in one write; their replies, an error reply in its command's place."""
        conn = await self._connection()
        return await conn.many(commands)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.broken = conn.broken or RedisConnectionError("redis client closed")
            conn.transport.close()


class LeanPipeline:
    """redis-py's non-transactional pipeline, for the commands the store and its riders
    queue."""

    def __init__(self, client: LeanRedis) -> None:
        self.client = client
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> LeanPipeline:
        self.commands.append(args)
        return self

    def set(self, name: str, value: str, ex: int | None = None) -> LeanPipeline:
        return self.execute_command(*(("SET", name, value) if ex is None
                                      else ("SET", name, value, "EX", ex)))

    def delete(self, *names: str) -> LeanPipeline:
        return self.execute_command("DEL", *names)

    def hincrby(self, name: str, key: str, amount: int = 1) -> LeanPipeline:
        return self.execute_command("HINCRBY", name, key, amount)

    def hincrbyfloat(self, name: str, key: str, amount: float = 1.0) -> LeanPipeline:
        return self.execute_command("HINCRBYFLOAT", name, key, repr(float(amount)))

    def expire(self, name: str, seconds: int) -> LeanPipeline:
        return self.execute_command("EXPIRE", name, int(seconds))

    def hset(self, name: str, *, mapping: dict[str, Any]) -> LeanPipeline:
        return self.execute_command("HSET", name, *(x for kv in mapping.items() for x in kv))

    def xadd(self, name: str, fields: dict[str, Any], *, maxlen: int | None = None,
             approximate: bool = True) -> LeanPipeline:
        trim = () if maxlen is None else ("MAXLEN", "~" if approximate else "=", maxlen)
        return self.execute_command("XADD", name, *trim, "*",
                                    *(x for kv in fields.items() for x in kv))

    def xtrim(self, name: str, *, minid: str, approximate: bool = True) -> LeanPipeline:
        return self.execute_command("XTRIM", name, "MINID", "~" if approximate else "=", minid)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        commands, self.commands = self.commands, []
        if not commands:
            return []
        replies = await self.client.send_many(commands)
        if raise_on_error:
            for r in replies:
                if isinstance(r, Exception):
                    raise r
        return replies
