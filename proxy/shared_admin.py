"""The admin state of the whole deployment in Redis: session journals, the live class mix, drift
inputs and shadow agreement, written behind by every worker of every instance.

Nothing here runs on the request path. The governance drain hands each batch's journal entries
to ``journal_batch`` (kept in a bounded dict); every ``interval`` seconds one task sends them
(one Lua call per batch, one per session on a Cluster) together with what the live mix, the drift
sums and the shadow counts gained since the last flush (pipelined increments into per-minute
buckets). Everything is bounded: journals are capped lists with the session's TTL, buckets
expire after the window, at most ``max_pending`` sessions wait while Redis is away (more are
dropped and counted), and the increments of the live mix, drift and shadow are recomputed from
the local structures, so a failed flush loses nothing and a later one sends it.

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

if TYPE_CHECKING:
    from classifiers.artifact import Model
    from explain.governance import Governance

logger = logging.getLogger(__name__)

GLOBAL = "global"
LOCAL_ONLY = "local only"

# ARGV: prefix, ttl, max events, max changes, then one JSON array per session:
# [pseudonym, profile, class, decisions gained, [event JSON...], [change JSON...]].
JOURNAL_LUA = """
local p, ttl, me, mc = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 5, #ARGV do
  local s = cjson.decode(ARGV[i])
  local base = p .. ':adm:j:{' .. s[1] .. '}'
  local m, e, c = base .. ':m', base .. ':e', base .. ':c'
  redis.call('HSET', m, 'profile', s[2], 'class', s[3])
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
return #ARGV - 4
"""


class SharedAdminState:
    """Write-behind of governance state to Redis and the readers the admin API uses."""

    def __init__(
        self, client: Any, governance: Governance, *, prefix: str = "ig",
        session_ttl: float = 1800.0, interval: float = 0.5, max_pending: int = 20_000,
        cluster: bool = False, chunk: int = 200,
    ) -> None:
        self.client = client
        self.gov = governance
        self.prefix = prefix
        self.ttl = max(int(session_ttl), 1)
        self.interval = interval
        self.max_pending = max_pending
        self.cluster = cluster
        self.chunk = chunk
        self.up = True
        self.flushes = 0
        self.errors = 0
        self.dropped = 0
        # pseudonym -> [profile, class, decisions gained, [event JSON], [change JSON]]
        self._pending: dict[str, list[Any]] = {}
        # What was sent already: live (bucket, slug) -> n; drift (version, bucket) -> (n, sums);
        # shadow: (id of the Shadow object, (live, candidate) -> n, decisions, agreed).
        self._live_sent: dict[tuple[int, str], int] = {}
        self._drift_sent: dict[tuple[str, int], tuple[int, list[float]]] = {}
        self._shadow_sent: tuple[int, dict[tuple[str, str], int], int, int] = (0, {}, 0, 0)
        self._sha: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._logged_at = -1e18

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
                row[3].append(orjson.dumps(step_of(event)._asdict()).decode())
                if len(row[3]) > journal.events_per_session:
                    del row[3][0]
            if change is not None:
                row[4].append(orjson.dumps(change_dict(change)).decode())
                if len(row[4]) > journal.changes_per_session:
                    del row[4][0]

    # -- flushing ---------------------------------------------------------------------------

    def _live_deltas(self) -> tuple[dict[tuple[int, str], int], dict[tuple[int, str], int]]:
        now_rows = {(b, slug): n for b, counts in self.gov.live.rows()
                    for slug, n in counts.items()}
        deltas = {k: n - self._live_sent.get(k, 0) for k, n in now_rows.items()}
        return {k: d for k, d in deltas.items() if d > 0}, now_rows

    def _drift_deltas(self) -> tuple[dict[tuple[str, int], tuple[int, list[float]]],
                                     dict[tuple[str, int], tuple[int, list[float]]]]:
        monitor = self.gov.drift
        if monitor is None:
            return {}, dict(self._drift_sent)
        version = monitor.model.version
        current = {(version, b): (n, sums) for b, n, sums in monitor.rows()}
        deltas = {}
        for k, (n, sums) in current.items():
            sent_n, sent_sums = self._drift_sent.get(k, (0, [0.0] * len(sums)))
            if n > sent_n:
                deltas[k] = (n - sent_n, [a - b for a, b in zip(sums, sent_sums, strict=True)])
        return deltas, current

    def _shadow_deltas(self) -> tuple[str | None, dict[str, float], Any]:
        shadow = self.gov.shadow
        if shadow is None:
            return None, {}, self._shadow_sent
        ident, sent, sent_dec, sent_agr = self._shadow_sent
        if ident != id(shadow):
            sent, sent_dec, sent_agr = {}, 0, 0
        fields: dict[str, float] = {}
        for key, n in shadow.confusion.items():
            d = n - sent.get(key, 0)
            if d > 0:
                fields[f"{key[0]}|{key[1]}"] = d
        if shadow.decisions > sent_dec:
            fields["decisions"] = shadow.decisions - sent_dec
        if shadow.agreed > sent_agr:
            fields["agreed"] = shadow.agreed - sent_agr
        after = (id(shadow), dict(shadow.confusion), shadow.decisions, shadow.agreed)
        return shadow.candidate.version, fields, after

    async def flush(self) -> bool:
        """Send what is pending; ``False`` (and everything kept) when Redis did not take it."""
        async with self._lock:
            self.gov.drain()
            pending, self._pending = self._pending, {}
            live, live_now = self._live_deltas()
            drift, drift_now = self._drift_deltas()
            candidate, shadow_fields, shadow_after = self._shadow_deltas()
            if not pending and not live and not drift and not shadow_fields and self.up:
                return True
            expire = int(self.gov.live.window_s + 2 * self.gov.live.bucket_s)
            try:
                await self._send_journals(pending)
                pipe = self.client.pipeline(transaction=False)
                for (b, slug), n in live.items():
                    pipe.hincrby(self._live_key(b), slug, n)
                for b in {b for b, _ in live}:
                    pipe.expire(self._live_key(b), expire)
                for (version, b), (n, sums) in drift.items():
                    key = self._drift_key(version, b)
                    pipe.hincrby(key, "n", n)
                    for i, v in enumerate(sums):
                        if v:
                            pipe.hincrbyfloat(key, f"s{i}", v)
                    pipe.expire(key, expire)
                if candidate is not None and shadow_fields:
                    key = self._shadow_key(candidate)
                    for f, v in shadow_fields.items():
                        pipe.hincrby(key, f, int(v))
                    pipe.expire(key, 7 * 86400)
                if len(pipe):
                    await pipe.execute()
            except Exception as exc:
                self._failed(exc)
                # Keep the journals (bounded) for the next flush; the live/drift/shadow
                # increments are recomputed from the local state next time.
                for k, old in pending.items():
                    new = self._pending.get(k)
                    if new is not None:  # more came in while this flush was out
                        new[2] += old[2]
                        new[3][:0] = old[3]
                        new[4][:0] = old[4]
                    elif len(self._pending) < self.max_pending:
                        self._pending[k] = old
                    else:
                        self.dropped += 1
                return False
            self.up = True
            self.flushes += 1
            self._live_sent = live_now
            self._drift_sent = drift_now
            self._shadow_sent = shadow_after
            return True

    async def _send_journals(self, pending: dict[str, list[Any]]) -> None:
        if not pending:
            return
        if self._sha is None:
            self._sha = await self.client.script_load(JOURNAL_LUA)
        rows = [orjson.dumps([k, *row]).decode() for k, row in pending.items()]
        head = [self.prefix, self.ttl, self.gov.journal.events_per_session,
                self.gov.journal.changes_per_session]
        if self.cluster:
            for k, row in zip(pending, rows, strict=True):
                await self.client.evalsha(self._sha, 1, self._journal_base(k) + ":m", *head, row)
            return
        for i in range(0, len(rows), self.chunk):
            await self.client.evalsha(self._sha, 0, *head, *rows[i:i + self.chunk])

    def _failed(self, exc: BaseException) -> None:
        self.up = False
        self.errors += 1
        if time.monotonic() - self._logged_at > 10.0:
            self._logged_at = time.monotonic()
            logger.warning("shared admin state not written to redis (kept locally): %r", exc)

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
        rows = [(b, {_s(k): int(v) for k, v in h.items()}) for b, h in zip(buckets, got,
                                                                          strict=True) if h]
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
            fields = {_s(k): float(v) for k, v in h.items()}
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
        fields = {_s(k): int(v) for k, v in h.items()}
        decisions, agreed = fields.pop("decisions", 0), fields.pop("agreed", 0)
        confusion = {tuple(k.split("|", 1)): n for k, n in fields.items() if "|" in k}
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
                "timeline": [orjson.loads(e) for e in events],
                "changes": [orjson.loads(c) for c in changes]}, GLOBAL

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.gov.sink = self.journal_batch
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="intentgate-shared-admin")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception as exc:  # never let the writer die
                self._failed(exc)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 2.0)

    def stats(self) -> dict[str, float]:
        return {"up": float(self.up), "pending_sessions": float(len(self._pending)),
                "dropped": float(self.dropped), "flushes": float(self.flushes),
                "errors": float(self.errors)}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
