"""The audit log: decision records leave the request path through a bounded buffer.

``AuditLog.submit`` is synchronous and never waits: a full buffer drops the record and counts it.
One background task drains the buffer in batches into a sink — ``JsonlSink`` (rotating files,
size cap, keep N, retention by age) or ``RedisStreamSink`` (XADD with an approximate MAXLEN).
A sink's write errors are counted and logged, never raised into the proxy. ``AuditPolicy``
decides which decisions become records: every class change, plus a deterministic sample of the
rest. Records hold pseudonymous tokens only, never a cookie value or a user id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from zlib import crc32

import orjson

from explain.errors import AuditSinkError
from signals.background import stop
from signals.jsonl import RotatingFile, drop_lines
from signals.ratelog import RateLimitedLog

logger = logging.getLogger(__name__)

_LOG_EVERY = 10.0  # seconds between two log lines about failing audit writes
# audit.jsonl, audit.jsonl.3, audit-1234.jsonl, audit-1234.jsonl.2: (writer, rotation)
_AUDIT_FILE = re.compile(r"^audit(?:-(\d{1,10}))?\.jsonl(?:\.(\d{1,4}))?$")


@dataclass(slots=True)
class AuditRecord:
    """One decision. ``contributions``/``raw``/``x`` have one value per name in ``signals``."""

    ts: float
    session: str
    profile: str
    model: str
    cls: str
    confidence: float
    previous: str | None
    event: str | None
    signals: tuple[str, ...]
    contributions: list[float]
    raw: list[float]
    x: list[float]
    note: str | None = None  # e.g. why this record undoes an earlier class change
    evidence: list[float] | None = None  # per signal: its pull toward the class given (>= 0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ts": self.ts, "session": self.session, "profile": self.profile,
            "model": self.model, "class": self.cls, "confidence": round(self.confidence, 4),
            "previous": self.previous, "changed": self.previous != self.cls,
            "event": self.event,
            "signals": [
                {"signal": n, "contribution": round(c, 6), "raw_value": round(r, 4)}
                for n, c, r in zip(self.signals, self.contributions, self.raw, strict=True)
            ],
            "x": [round(v, 6) for v in self.x],
        }
        if self.evidence is not None:
            for item, e in zip(out["signals"], self.evidence, strict=True):
                item["evidence"] = round(e, 6)
        if self.note is not None:
            out["note"] = self.note
        return out


class AuditPolicy:
    """Which decisions are recorded: every class change, and ``sample_rate`` of the others.

    Sampling is deterministic (a hash of the session token and its decision counter), so the
    same traffic gives the same records and no random generator sits on the request path.
    """

    __slots__ = ("sample_rate", "_threshold")

    def __init__(self, sample_rate: float = 0.01) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be within 0..1, got {sample_rate!r}")
        self.sample_rate = sample_rate
        self._threshold = int(sample_rate * 2**32)

    def should_record(self, session: str, counter: int, changed: bool) -> bool:
        if changed:
            return True
        if self._threshold == 0:
            return False
        if self._threshold >= 2**32:
            return True
        h = crc32(counter.to_bytes(8, "little"), crc32(session.encode()))
        return h < self._threshold


class AuditSink(Protocol):
    async def write(self, batch: list[dict[str, Any]]) -> int: ...
    async def query(
        self, cls: str | None, since: float | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    async def erase(self, profile: str) -> int: ...
    async def aclose(self) -> None: ...


def _parse_id(value: str) -> tuple[int, int, int]:
    """``<ms>-<seq>`` or ``<ms>-<seq>-<writer>`` as a sortable tuple."""
    ms, _, rest = value.partition("-")
    seq, _, writer = rest.partition("-")
    return int(ms), int(seq or 0), int(writer or 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


class AuditLog:
    """The bounded buffer plus its one drain task; see the module docstring.

    ``submit`` runs on the request path (event loop thread); everything else is admin-side.
    """

    def __init__(
        self, sink: AuditSink, *, capacity: int = 10_000, batch_size: int = 256,
        policy: AuditPolicy | None = None,
    ) -> None:
        if capacity < 1 or batch_size < 1:
            raise ValueError("capacity and batch_size must be at least 1")
        self.sink = sink
        self.capacity = capacity
        self.batch_size = batch_size
        self.policy = policy or AuditPolicy()
        self.submitted = 0
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self._pending: deque[AuditRecord] = deque()
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = RateLimitedLog(logger, _LOG_EVERY)

    @property
    def depth(self) -> int:
        return len(self._pending)

    def submit(self, record: AuditRecord) -> bool:
        """Queue ``record``; ``False`` when the buffer is full (dropped, counted). Never waits."""
        if len(self._pending) >= self.capacity:
            self.dropped += 1
            return False
        self._pending.append(record)
        self.submitted += 1
        if self._task is None:
            self.start()
        if self._wake is not None:
            self._wake.set()
        return True

    def start(self) -> asyncio.Task[None] | None:
        """Start the drain task on the running loop (a no-op without one, or when running)."""
        if self._task is not None and not self._task.done():
            return self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task = loop.create_task(self._run(), name="intentgate-audit")
        if self._pending:
            self._wake.set()
        return self._task

    async def _run(self) -> None:
        wake = self._wake
        if wake is None:  # start() sets it before creating this task
            return
        while True:
            await wake.wait()
            wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything buffered now (the drain task does this on its own)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while self._pending:
                n = min(self.batch_size, len(self._pending))
                batch = [self._pending.popleft() for _ in range(n)]
                try:
                    done = await self.sink.write([r.to_dict() for r in batch])
                except Exception as exc:  # a sink must never take the proxy down
                    done = 0
                    self._log.error("audit sink failed: %r", exc)
                self.written += done
                self.write_errors += n - done

    async def aclose(self) -> None:
        """Write what is buffered, stop the task, close the sink."""
        await self.flush()
        task, self._task = self._task, None
        await stop(task)
        await self.sink.aclose()

    async def query(
        self, cls: str | None = None, since: float | None = None, limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first: ``(records, next_cursor)``; pass ``next_cursor`` to read the next page.
        Raises ``AuditSinkError`` when the sink cannot be read."""
        await self.flush()
        return await self.sink.query(cls, since, limit, cursor)

    async def erase(self, profile: str) -> int:
        """Remove every record of ``profile``, buffered or stored; returns how many."""
        kept = [r for r in self._pending if r.profile != profile]
        removed = len(self._pending) - len(kept)
        self._pending = deque(kept)
        return removed + await self.sink.erase(profile)

    def stats(self) -> dict[str, float]:
        return {"depth": float(self.depth), "dropped": float(self.dropped),
                "written": float(self.written), "errors": float(self.write_errors),
                "submitted": float(self.submitted)}


# -- JSONL files ------------------------------------------------------------------------------


class JsonlSink:
    """Rotating JSONL files: ``audit.jsonl`` (current), ``audit.jsonl.1`` … (older), ``keep``
    files in all, each rotated at ``max_bytes``. Retention is by file: a rotated file whose
    newest record is older than ``retention_s`` is deleted. Every record gets a stream-like id
    ``"<ms>-<seq>"``, increasing, that query cursors use.

    Several workers: each has its own files (``writer`` set: ``audit-<writer>.jsonl`` …, ids
    ``"<ms>-<seq>-<writer>"``), so each file has one writer and ids are unique across workers;
    a query reads every worker's files merged by id. Appends and an erasure's in-place rewrite
    take an exclusive ``flock`` on the file, so an erasure by one worker never loses another's
    appends.
    """

    def __init__(
        self, directory: Path, *, max_bytes: int = 64 * 1024 * 1024, keep: int = 10,
        retention_s: float | None = 30 * 86400.0, clock: Callable[[], float] = time.time,
        writer: int | None = None,
    ) -> None:
        self._file = RotatingFile(directory, "audit", max_bytes=max_bytes, keep=keep,
                                  writer=writer)
        self.directory = self._file.directory
        self.retention_s = retention_s
        self.clock = clock
        self.writer = writer
        self.errors = 0
        self._last: tuple[int, int] = (0, 0)
        self._log = RateLimitedLog(logger, _LOG_EVERY)

    @property
    def path(self) -> Path:
        return self._file.path

    def own_files(self) -> list[Path]:
        """This writer's files, newest first."""
        return self._file.own_files()

    def files(self) -> list[Path]:
        """Every writer's audit files in the directory."""
        if not self.directory.is_dir():
            return []
        return sorted(q for q in self.directory.glob("audit*.jsonl*")
                      if not q.name.startswith(".") and _AUDIT_FILE.match(q.name))

    def _open(self) -> None:
        if self._file.fh is None:
            self._file.open()
            if self._last == (0, 0):
                for rec in self._iter_newest_first(self.own_files()):
                    ms, seq, _ = _parse_id(rec["id"])
                    self._last = (ms, seq)
                    break

    def _next_id(self, ts: float) -> str:
        ms = int(ts * 1000)
        last_ms, last_seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        if self.writer is None:
            return f"{self._last[0]}-{self._last[1]}"
        return f"{self._last[0]}-{self._last[1]}-{self.writer}"

    async def write(self, batch: list[dict[str, Any]]) -> int:
        return self.write_sync(batch)

    def write_sync(self, batch: list[dict[str, Any]]) -> int:
        try:
            self._open()
            lines = []
            for rec in batch:
                rec["id"] = self._next_id(float(rec["ts"]))
                lines.append(orjson.dumps(rec) + b"\n")
            rotated = self._file.append(b"".join(lines))
        except OSError as exc:  # a full disk loses records, never requests
            self.errors += len(batch)
            self._log.error("audit log write failed in %s: %s", self.directory, exc)
            return 0
        if rotated:
            self.prune()  # rotated files past the retention go
        return len(batch)

    def prune(self) -> int:
        """Delete rotated files older than the retention (any writer's), and the current file
        of a writer that has exited when it is that old; returns how many were deleted."""
        if self.retention_s is None:
            return 0
        cutoff = self.clock() - self.retention_s
        deleted = 0
        for path in self.files():
            m = _AUDIT_FILE.match(path.name)
            if path == self.path or m is None:
                continue
            current = m.group(2) is None
            if current and (m.group(1) is None or _alive(int(m.group(1)))):
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:
                pass
        return deleted

    @staticmethod
    def _iter_newest_first(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
        for path in paths:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            for line in reversed(data.splitlines()):
                if not line.strip():
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a torn last line after a crash
                if isinstance(rec, dict) and isinstance(rec.get("id"), str):
                    yield rec

    async def query(
        self, cls: str | None, since: float | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        self._file.flush()
        before = _parse_id(cursor) if cursor else None
        out: list[dict[str, Any]] = []
        try:
            found = []
            for rec in self._iter_newest_first(self.files()):
                try:
                    key = _parse_id(rec["id"])
                except ValueError:
                    continue
                if before is not None and key >= before:
                    continue
                if since is not None and rec.get("ts", 0.0) < since:
                    continue
                if cls is not None and rec.get("class") != cls:
                    continue
                found.append((key, rec))
        except OSError as exc:
            raise AuditSinkError(f"audit files unreadable: {exc}") from exc
        found.sort(key=lambda kr: kr[0], reverse=True)  # every writer's files, merged by id
        out = [rec for _, rec in found[:limit]]
        return out, (out[-1]["id"] if len(out) >= limit and len(found) > limit else None)

    async def erase(self, profile: str) -> int:
        needle = b'"profile":' + orjson.dumps(profile)
        removed = 0
        try:
            for path in self.files():
                removed += drop_lines(path, lambda line: needle in line)
        except OSError as exc:
            raise AuditSinkError(f"audit files could not be rewritten: {exc}") from exc
        return removed

    async def aclose(self) -> None:
        self._file.close()


# -- Redis Stream ---------------------------------------------------------------------------


class RedisStreamSink:
    """Records as entries of one Redis Stream (field ``r``: the JSON record), capped with
    ``XADD … MAXLEN ~ maxlen``; with ``retention_s`` entries older than that are trimmed by
    ``XTRIM MINID ~``. ``client`` is a ``redis.asyncio.Redis``; ``write_client``, when given,
    the client the writes go through (the store's lean one). Write errors are counted."""

    def __init__(
        self, client: Any, *, key: str = "ig:audit", maxlen: int = 100_000,
        retention_s: float | None = None, clock: Callable[[], float] = time.time,
        write_client: Any = None,
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.client = client
        self.write_client = client if write_client is None else write_client
        self.key = key
        self.maxlen = maxlen
        self.retention_s = retention_s
        self.clock = clock
        self.errors = 0
        self._log = RateLimitedLog(logger, _LOG_EVERY)

    async def write(self, batch: list[dict[str, Any]]) -> int:
        try:
            pipe = self.write_client.pipeline(transaction=False)
            for rec in batch:
                pipe.xadd(self.key, {"r": orjson.dumps(rec)}, maxlen=self.maxlen,
                          approximate=True)
            if self.retention_s is not None:
                minid = int((self.clock() - self.retention_s) * 1000)
                pipe.xtrim(self.key, minid=str(minid), approximate=True)
            await pipe.execute()
        except Exception as exc:  # redis errors, timeouts, a closed connection
            self.errors += len(batch)
            self._log.error("audit stream %s write failed: %r", self.key, exc)
            return 0
        return len(batch)

    @staticmethod
    def _decode(entry_id: bytes | str, fields: dict[Any, Any]) -> dict[str, Any] | None:
        raw = fields.get(b"r", fields.get("r"))
        if raw is None:
            return None
        try:
            rec = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(rec, dict):
            return None
        rec["id"] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        return rec

    async def query(
        self, cls: str | None, since: float | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        high = f"({cursor}" if cursor else "+"
        low = str(int(since * 1000)) if since is not None else "-"
        out: list[dict[str, Any]] = []
        chunk = max(100, limit * 4)
        try:
            for _ in range(50):  # at most 50 chunks per page: a rare class cannot stall
                entries = await self.client.xrevrange(self.key, max=high, min=low, count=chunk)
                if not entries:
                    break
                for entry_id, fields in entries:
                    rec = self._decode(entry_id, fields)
                    if rec is None or (cls is not None and rec.get("class") != cls):
                        continue
                    out.append(rec)
                    if len(out) >= limit:
                        return out, rec["id"]
                last = entries[-1][0]
                high = "(" + (last.decode() if isinstance(last, bytes) else last)
                if len(entries) < chunk:
                    break
        except Exception as exc:
            raise AuditSinkError(f"audit stream unreadable: {exc!r}") from exc
        return out, None

    async def erase(self, profile: str) -> int:
        low = "-"
        removed = 0
        try:
            while True:
                entries = await self.client.xrange(self.key, min=low, max="+", count=1000)
                if not entries:
                    break
                doomed = []
                for entry_id, fields in entries:
                    rec = self._decode(entry_id, fields)
                    if rec is not None and rec.get("profile") == profile:
                        doomed.append(entry_id)
                if doomed:
                    removed += int(await self.client.xdel(self.key, *doomed))
                last = entries[-1][0]
                low = "(" + (last.decode() if isinstance(last, bytes) else last)
                if len(entries) < 1000:
                    break
        except Exception as exc:
            raise AuditSinkError(f"audit stream could not be erased from: {exc!r}") from exc
        return removed

    async def aclose(self) -> None:
        return None  # the client belongs to whoever made it
