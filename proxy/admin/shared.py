"""The admin state of the whole deployment in Redis: session journals, the live class mix, drift
inputs and shadow agreement, written behind by every worker of every instance.

Nothing here runs on the request path. The governance drain hands each batch's journal entries
to ``journal_batch`` (kept in a bounded dict); every ``interval`` seconds one task sends them
(one Lua call per batch, one per session on a Cluster) together with this worker's live mix,
drift sums and shadow counts, written as its own absolute values (hash fields
``<name>|<worker>`` in per-minute buckets; readers sum the workers). Writes are idempotent, so a
reply lost to a timeout after Redis applied the write is simply sent again: aggregates are
absolute, and a journal batch carries a number the script applies once per worker. Everything
is bounded: journals are capped lists with the session's TTL, buckets expire after the window,
and at most ``max_pending`` sessions wait while Redis is away (more are dropped and counted).

Readers flush this worker's pending state, then read Redis, so any worker of any instance
answers with the same numbers. Redis being away degrades the answers to this worker's own view,
marked ``"scope": "local only"``; it never fails a shopper's request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from explain.drift import DriftMonitor
from explain.explanation import change_dict, step_of
from explain.live import LiveMix
from proxy.instance import worker_id
from signals.background import Periodic
from signals.ratelog import RateLimitedLog

if TYPE_CHECKING:
    from classifiers.artifact import Model
    from explain.governance import Governance

logger = logging.getLogger(__name__)

GLOBAL = "global"
LOCAL_ONLY = "local only"

# ARGV: prefix, ttl, max events, max changes, worker, batch number, then one JSON array per
# session: [pseudonym, profile, class, decisions gained, [event JSON...], [change JSON...]].
# A batch is applied to a session once: a retry after a reply that was lost (a timeout after
# Redis applied it) finds its number already recorded for this worker and changes nothing.
JOURNAL_LUA = """
local p, ttl, me, mc = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local w, seq = 'w:' .. ARGV[5], tonumber(ARGV[6])
for i = 7, #ARGV do
  local s = cjson.decode(ARGV[i])
  local base = p .. ':adm:j:{' .. s[1] .. '}'
  local m, e, c = base .. ':m', base .. ':e', base .. ':c'
  local last = tonumber(redis.call('HGET', m, w) or '0')
  if seq > last then
  redis.call('HSET', m, 'profile', s[2], 'class', s[3], w, ARGV[6])
  redis.call('HINCRBY', m, 'decisions', s[4])
  redis.call('EXPIRE', m, ttl)
  if #s[5] > 0 then
    redis.call('RPUSH', e, unpack(s[5]))
    redis.call('LTRIM', e, -me, -1)
    redis.call('EXPIRE', e, ttl)
  end
  if #s[6] > 0 then
    redis.call('RPUSH', c, unpack(s[6]))
    redis.call('LTRIM', c, -mc, -1)
    redis.call('EXPIRE', c, ttl)
  end
  end
end
return #ARGV - 6
"""


class SharedAdminState:
    """Write-behind of governance state to Redis and the readers the admin API uses."""

    def __init__(
        self, client: Any, governance: Governance, *, prefix: str = "ig",
        session_ttl: float = 1800.0, interval: float = 0.5, max_pending: int = 20_000,
        cluster: bool = False, chunk: int = 200, worker: str | None = None,
        write_client: Any = None,
    ) -> None:
        self.client = client
        self.write_client = client if write_client is None else write_client
        self.gov = governance
        self.prefix = prefix
        self.ttl = max(int(session_ttl), 1)
        self.interval = interval
        self.max_pending = max_pending
        self.cluster = cluster
        self.chunk = chunk
        self.worker = worker or worker_id()
        self.up = True
        self.flushes = 0
        self.errors = 0
        self.dropped = 0
        # pseudonym -> [profile, class, decisions gained, [event JSON], [change JSON]]
        self._pending: dict[str, list[Any]] = {}
        # Journal batches not yet confirmed, oldest first: (batch number, rows). A batch is
        # resent as it was, so the script can recognise one it applied already.
        self._unsent: list[tuple[int, dict[str, list[Any]]]] = []
        self._seq = int(time.time() * 1000)  # increasing across this worker's restarts too
        # Aggregates are written as this worker's absolute values (fields "<name>|<worker>"),
        # so writing them twice is harmless; what was last written, to send only changes.
        self._written: dict[tuple[str, str], float] = {}
        self._sha: str | None = None
        self._writer = Periodic("intentgate-shared-admin", interval, self.flush, self._failed)
        self._lock = asyncio.Lock()
        self._log = RateLimitedLog(logger)

    # -- keys -------------------------------------------------------------------------------

    def _live_key(self, b: int) -> str:
        return f"{self.prefix}:adm:live:{b}"

    def _drift_key(self, version: str, b: int) -> str:
        return f"{self.prefix}:adm:drift:{version}:{b}"

    def _shadow_key(self, candidate: str) -> str:
        return f"{self.prefix}:adm:shadow:{candidate}"

    def _journal_base(self, pseudonym: str) -> str:
        return f"{self.prefix}:adm:j:{{{pseudonym}}}"

    # -- collecting (called by the governance drain, off the request path) ----------------------

    def journal_batch(self, batch: list[tuple[Any, Any]]) -> None:
        journal = self.gov.journal
        pending = self._pending
        for rec, change in batch:
            entry = journal.get(rec[0])
            if entry is None:
                continue
            row = pending.get(entry.pseudonym)
            if row is None:
                if len(pending) >= self.max_pending:
                    self.dropped += 1
                    continue
                row = pending[entry.pseudonym] = [entry.profile, rec[4], 0, [], []]
            row[0], row[1] = entry.profile, rec[4]
            row[2] += 1
            event = rec[3]
            if event is not None:
                st = step_of(event)
                # A dict literal: ``Step._asdict`` costs ~1 µs more, once per decision.
                row[3].append(orjson.dumps({
                    "ts": st.ts, "kind": st.kind, "product": st.product,
                    "category": st.category, "query": st.query, "value": st.value,
                    "undone": st.undone}).decode())
                if len(row[3]) > journal.events_per_session:
                    del row[3][0]
            if change is not None:
                row[4].append(orjson.dumps(change_dict(change)).decode())
                if len(row[4]) > journal.changes_per_session:
                    del row[4][0]

    # -- flushing ---------------------------------------------------------------------------

    def _aggregates(self) -> dict[tuple[str, str], float]:
        """This worker's live mix, drift sums and shadow counts as (key, field) -> value."""
        w = self.worker
        out: dict[tuple[str, str], float] = {}
        for b, counts in self.gov.live.rows():
            key = self._live_key(b)
            for slug, n in counts.items():
                out[(key, f"{slug}|{w}")] = n
        monitor = self.gov.drift
        if monitor is not None:
            version = monitor.model.version
            for b, n, sums in monitor.rows():
                key = self._drift_key(version, b)
                out[(key, f"n|{w}")] = n
                for i, v in enumerate(sums):
                    out[(key, f"s{i}|{w}")] = v
        shadow = self.gov.shadow
        if shadow is not None:
            key = self._shadow_key(shadow.candidate.version)
            tag = f"{w}@{shadow.started_at!r}"  # a restarted shadow counts afresh
            out[(key, f"decisions|{tag}")] = shadow.decisions
            out[(key, f"agreed|{tag}")] = shadow.agreed
            for (live, cand), n in shadow.confusion.items():
                out[(key, f"{live}>{cand}|{tag}")] = n
        return out

    async def flush(self) -> bool:
        """Send what is pending; ``False`` (and everything kept) when Redis did not take it."""
        async with self._lock:
            self.gov.drain()
            if self._pending:
                self._seq += 1
                self._unsent.append((self._seq, self._pending))
                self._pending = {}
                while sum(len(rows) for _, rows in self._unsent) > self.max_pending:
                    _, rows = self._unsent.pop(0)  # Redis away too long: the oldest go
                    self.dropped += len(rows)
            current = self._aggregates()
            changed = {k: v for k, v in current.items() if self._written.get(k) != v}
            if not self._unsent and not changed and self.up:
                return True
            expire = int(self.gov.live.window_s + 2 * self.gov.live.bucket_s)
            try:
                while self._unsent:
                    seq, rows = self._unsent[0]
                    await self._send_journals(seq, rows)
                    self._unsent.pop(0)
                if changed:
                    by_key: dict[str, dict[str, float]] = {}
                    for (key, f), v in changed.items():
                        by_key.setdefault(key, {})[f] = v
                    pipe = self.write_client.pipeline(transaction=False)
                    for key, fields in by_key.items():
                        pipe.hset(key, mapping=fields)
                        pipe.expire(key, 7 * 86400 if ":adm:shadow:" in key else expire)
                    await pipe.execute()
            except Exception as exc:
                self._failed(exc)
                return False
            self.up = True
            self.flushes += 1
            self._written = current
            return True

    async def _send_journals(self, seq: int, pending: dict[str, list[Any]]) -> None:
        if self._sha is None:
            self._sha = await self.client.script_load(JOURNAL_LUA)
        rows = [orjson.dumps([k, *row]).decode() for k, row in pending.items()]
        head = [self.prefix, self.ttl, self.gov.journal.events_per_session,
                self.gov.journal.changes_per_session, self.worker, seq]
        if self.cluster:
            for k, row in zip(pending, rows, strict=True):
                await self._script(1, self._journal_base(k) + ":m", *head, row)
            return
        for i in range(0, len(rows), self.chunk):
            await self._script(0, *head, *rows[i:i + self.chunk])

    async def _script(self, *args: Any) -> None:
        from redis.exceptions import NoScriptError

        try:
            await self.write_client.execute_command("EVALSHA", self._sha, *args)
        except NoScriptError:  # Redis restarted: its script cache is empty
            self._sha = await self.client.script_load(JOURNAL_LUA)
            await self.write_client.execute_command("EVALSHA", self._sha, *args)

    def _failed(self, exc: BaseException) -> None:
        self.up = False
        self.errors += 1
        self._log.warning("shared admin state not written to redis (kept locally): %r", exc)

    # -- reading ----------------------------------------------------------------------------

    async def _ready(self) -> bool:
        await self.flush()
        return self.up

    async def live(self, now: float) -> tuple[LiveMix, str]:
        local = self.gov.live
        if not await self._ready():
            return local, LOCAL_ONLY
        newest = int(now // local.bucket_s)
        buckets = list(range(newest - local.buckets + 1, newest + 1))
        try:
            pipe = self.client.pipeline(transaction=False)
            for b in buckets:
                pipe.hgetall(self._live_key(b))
            got = await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return local, LOCAL_ONLY
        rows = [(b, _summed(h, int)) for b, h in zip(buckets, got, strict=True) if h]
        return LiveMix.from_buckets(rows, local.bucket_s, local.buckets), GLOBAL

    async def drift(self, model: Model, now: float) -> tuple[DriftMonitor, LiveMix, str]:
        gov = self.gov
        mix, scope = await self.live(now)
        monitor = gov.drift
        if monitor is None or monitor.model.version != model.version:
            monitor = DriftMonitor(model, bucket_s=gov.live.bucket_s, buckets=gov.live.buckets)
        if scope != GLOBAL:
            return monitor, mix, scope
        newest = int(now // gov.live.bucket_s)
        buckets = list(range(newest - gov.live.buckets + 1, newest + 1))
        try:
            pipe = self.client.pipeline(transaction=False)
            for b in buckets:
                pipe.hgetall(self._drift_key(model.version, b))
            got = await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return monitor, gov.live, LOCAL_ONLY
        shared = DriftMonitor(model, bucket_s=gov.live.bucket_s, buckets=gov.live.buckets)
        rows = []
        for b, h in zip(buckets, got, strict=True):
            if not h:
                continue
            fields = _summed(h, float)
            sums = [fields.get(f"s{i}", 0.0) for i in range(model.d)]
            rows.append((b, int(fields.get("n", 0)), sums))
        shared.load(rows)
        return shared, mix, GLOBAL

    async def shadow(self, candidate: str) -> tuple[dict[str, Any] | None, str]:
        if not await self._ready():
            return None, LOCAL_ONLY
        try:
            h = await self.client.hgetall(self._shadow_key(candidate))
        except Exception as exc:
            self._failed(exc)
            return None, LOCAL_ONLY
        fields = _summed(h, lambda v: int(float(v)))
        decisions, agreed = fields.pop("decisions", 0), fields.pop("agreed", 0)
        confusion = {tuple(k.split(">", 1)): n for k, n in fields.items() if ">" in k}
        rows = sorted({r for r, _ in confusion})
        cols = sorted({c for _, c in confusion})
        return {
            "decisions": decisions, "agreed": agreed,
            "agreement_rate": round(agreed / decisions, 4) if decisions else None,
            "rows": rows, "columns": cols,
            "matrix": [[confusion.get((r, c), 0) for c in cols] for r in rows],
        }, GLOBAL

    async def journal(self, pseudonym: str) -> tuple[dict[str, Any] | None, str]:
        if not await self._ready():
            return None, LOCAL_ONLY
        base = self._journal_base(pseudonym)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(base + ":m")
            pipe.lrange(base + ":e", 0, -1)
            pipe.lrange(base + ":c", 0, -1)
            meta, events, changes = await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return None, LOCAL_ONLY
        if not meta:
            return None, GLOBAL
        m = {_s(k): _s(v) for k, v in meta.items()}
        return {"session": pseudonym, "profile": m.get("profile"),
                "decisions": int(m.get("decisions", "0")), "class": m.get("class"),
                # Workers append in the order their flushes land, not in the order the
                # shopper acted: the story is told by time.
                "timeline": _by_time([orjson.loads(e) for e in events]),
                "changes": _by_time([orjson.loads(c) for c in changes])}, GLOBAL

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.gov.sink = self.journal_batch
        self._writer.start()

    async def aclose(self) -> None:
        await self._writer.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 2.0)

    def stats(self) -> dict[str, float]:
        return {"up": float(self.up), "pending_sessions": float(len(self._pending)),
                "dropped": float(self.dropped), "flushes": float(self.flushes),
                "errors": float(self.errors)}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _summed(fields: dict[Any, Any], cast: Any) -> dict[str, Any]:
    """Fields ``<name>|<worker>`` summed over workers: ``{name: total}``."""
    out: dict[str, Any] = {}
    for k, v in fields.items():
        name = _s(k).rsplit("|", 1)[0]
        out[name] = out.get(name, 0) + cast(_s(v))
    return out


def _by_time(items: list[Any]) -> list[Any]:
    """Journal entries ordered by their time stamp (stable for equal ones)."""
    return sorted(items, key=lambda d: d.get("ts", 0.0) if isinstance(d, dict) else 0.0)
