"""``RedisStore``: profiles shared by every proxy process through Redis, off the request path.

Design (write-behind; chosen by measurement, see docs/redis-store.md):

- Each process keeps the states of its live sessions and profiles locally (a bounded LRU) and
  serves every request from them. A request costs a Redis round trip only when its key is not
  local yet (the session or profile began on another process or before a restart): the engine
  then awaits ``fetch`` once. Most requests cost none.
- What a request adds marks its key dirty. A flusher task sends, every few milliseconds, one
  pipelined script call per batch (per Cluster slot) carrying "what this process added since the
  last sync" for each dirty key, and gets back the shared totals, which replace the local copies
  (plus what arrived meanwhile). Adds commute, so many processes may add to one profile at once.
- Identify merges a device's session into the shopper's profile inside the same script, at most
  once per merge id (so a repeated identify changes nothing), and keeps what it added in the
  profile's merge journal so it can be undone for ``undo_ttl``.
- Redis is never waited on for long: short socket deadlines, no retries in the request path, and
  a circuit breaker; while Redis is away the process serves from local state and keeps the dirty
  keys (bounded; what does not fit is counted) for when it returns.

Keys (``P`` = prefix, ``id`` = a profile pseudonym, or ``s`` + the session's pseudonym), all of
one profile in one Cluster slot through the ``{id}`` hash tag:

    P:{id}:h   hash, field s: "t st dp dc v1..v19" (decayed to, started, distinct counts,
               counters), one string so the script parses and formats it in one call each
    P:{id}:p   set of product hashes (capped)        P:{id}:c   set of category hashes (capped)
    P:{id}:m   hash merge id -> what the merge added (profiles only; undo journal)
    P:{id}:d   set of linked device pseudonyms (profiles only; erasure finds devices here)
    P:{id}:q   hash writer id -> highest delta sequence applied (exactly-once flushes)
    P:{dev}:l  string: the profile a device is linked to (dev = device pseudonym)

Exactly once: every delta a process sends carries (writer id, sequence number). A flush whose
reply is lost (a timeout after Redis ran the script, a dropped connection) keeps its deltas and
sends them again, with the same numbers, ahead of anything new; the script skips a sequence it
has already applied. At most ``_MAX_UNACKED`` such deltas wait per key: past that, new changes
stay in the local state until Redis answers (nothing is lost, nothing counts twice). The
scripts themselves live in ``signals/redis_scripts.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from signals import redis_scripts
from signals.background import stop
from signals.errors import StoreUnavailable
from signals.resp import LeanRedis, lean_for
from signals.state import (
    CATEGORY_RING,
    DEFAULT_CONFIG,
    PRODUCT_RING,
    SYNC_FIELDS,
    SessionState,
    StateConfig,
    SyncDelta,
    add_delta,
    adopt,
    shared_state,
    sync_delta,
)
from signals.store import PROFILE_PREFIX

logger = logging.getLogger(__name__)

_NV = len(SYNC_FIELDS)
_SUFFIXES = ("h", "p", "c", "m", "d", "q")  # one profile's keys, in the scripts' KEYS order
_MAX_UNACKED = 16  # deltas per key whose reply was lost, kept to be sent again (same numbers)


class Breaker:
    """Consecutive failures open the circuit for a backoff that doubles up to a ceiling; after
    the backoff one attempt is let through (half-open), and a success closes it."""

    __slots__ = ("threshold", "base", "ceiling", "failures", "open_until", "backoff", "trips",
                 "clock")

    def __init__(self, threshold: int = 3, base: float = 0.5, ceiling: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.base = base
        self.ceiling = ceiling
        self.failures = 0
        self.open_until = 0.0
        self.backoff = base
        self.trips = 0
        self.clock = clock

    @property
    def closed(self) -> bool:
        return self.failures < self.threshold

    def wait_time(self) -> float:
        """Seconds until an attempt is allowed (0: now)."""
        if self.failures < self.threshold:
            return 0.0
        return max(self.open_until - self.clock(), 0.0)

    def allow(self) -> bool:
        return self.wait_time() == 0.0

    def success(self) -> None:
        self.failures = 0
        self.backoff = self.base

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            if self.failures == self.threshold:
                self.trips += 1
            else:
                self.backoff = min(self.backoff * 2.0, self.ceiling)
            self.open_until = self.clock() + self.backoff


class _Entry:
    """A local key: its state, the shared total it was last synced to, pending merges."""

    __slots__ = ("key", "state", "base", "merges", "synced_at", "touched", "ready", "unacked")

    def __init__(self, key: str, state: SessionState, base: SessionState | None,
                 synced_at: float, now: float) -> None:
        self.key = key
        self.state = state
        self.base = base
        self.merges: list[tuple[str, str, SyncDelta]] = []
        self.synced_at = synced_at
        self.touched = now
        # Set while a profile exists here only through a merge that has not come back from
        # Redis: requests wait for it (bounded), so the first one after a cross-device
        # identify is already classified from the whole profile.
        self.ready: asyncio.Future[None] | None = None
        # Deltas sent whose reply never came (maybe applied, maybe not): sent again, with the
        # same sequence numbers, until Redis answers. ``base`` already includes them.
        self.unacked: list[tuple[int, SyncDelta]] = []


def _block(d: SyncDelta) -> str:
    """A delta as the script reads it (see ``redis_scripts.APPLY``): space-separated numbers."""
    return " ".join(map(str, (*d.values, d.started, len(d.products), *d.products,
                              len(d.categories), *d.categories)))


# Keys handled between two yields to the event loop while a batch is prepared or absorbed
# (~10-25 µs each): requests never wait behind a whole batch.
_SLICE = 4
_MAX_PENDING_MERGES = 64  # per profile, while Redis is away
_SCRIPT_KEYS = 8



class RedisStore:
    """See the module docstring. ``pseudonym`` turns a session token into its keyed hash
    (raw cookie values never reach Redis); ``client`` is a ``redis.asyncio`` client or cluster
    client (``connect`` builds one from a URL)."""

    remote = True

    def __init__(
        self,
        client: Any,
        *,
        pseudonym: Callable[[str], str],
        prefix: str = "ig",
        capacity: int = 200_000,
        session_ttl: float = 1800.0,
        profile_ttl: float = 30 * 86400.0,
        undo_ttl: float = 7 * 86400.0,
        half_life: float = 600.0,
        dwell_cap: float = 300.0,
        flush_interval: float = 0.005,
        refresh_after: float = 10.0,
        batch: int = 16,
        backlog: int = 100_000,
        cluster: bool = False,
        clock: Callable[[], float] = time.time,
        breaker: Breaker | None = None,
        lean: LeanRedis | None = None,
    ) -> None:
        if capacity < 1 or backlog < 1 or batch < 1:
            raise ValueError("capacity, backlog and batch must be at least 1")
        self.client = client
        # The request path's fetch, the flush and the other write-behind paths (audit stream,
        # shared admin state) go through the lean client where the URL allows one
        # (signals/resp.py); loading scripts, reads for the admin surface and Cluster use
        # redis-py.
        self.write_client: Any = lean if lean is not None else client
        self.pseudonym = pseudonym
        self.prefix = prefix
        self.capacity = capacity
        self.session_ttl = int(max(session_ttl, 1))
        self.profile_ttl = int(max(profile_ttl, 1))
        self.undo_ttl = undo_ttl
        self.config = StateConfig(half_life=half_life, dwell_cap=dwell_cap)
        if self.config == DEFAULT_CONFIG:
            self.config = DEFAULT_CONFIG
        self.flush_interval = flush_interval
        self.refresh_after = refresh_after
        self.batch = batch
        self.backlog = backlog
        self.cluster = cluster
        self.clock = clock
        self.breaker = breaker or Breaker()
        self.wait_ready = 0.25  # longest a request waits for a merge to come back
        self._local: OrderedDict[str, _Entry] = OrderedDict()
        self._dirty: dict[str, _Entry] = {}
        self._links: list[tuple[str, str, str | None]] = []  # (device pseud, profile, op)
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._flush_lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._apply_sha = ""
        self._undo_sha = ""
        self.writer = os.urandom(6).hex()  # this process's id in the applied-sequences hash
        self._seq = itertools.count(1)
        self._closing = False
        # Other shared counters that ride this flusher's pipeline (signals.redis_outcomes).
        self._riders: list[Any] = []
        self.stats_: dict[str, int] = dict.fromkeys(
            ("fetches", "fetch_hits", "fetch_skipped", "fetch_errors", "flushes", "flushed_keys",
             "flush_errors", "backlog_overflow", "unsynced_evicted", "evictions", "expirations",
             "merges", "merges_repeated"), 0)

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def connect(cls, url: str, *, timeout: float = 0.05, **kwargs: Any) -> RedisStore:
        """A store on ``url`` (``redis://``, ``rediss://``, ``unix://``; ``redis+cluster://`` for a
        Cluster) with short deadlines and no client-side retries: the breaker decides."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        common: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if url.startswith("redis+cluster://"):
            from redis.asyncio.cluster import RedisCluster

            # One immediate retry: redis-py follows a MOVED/ASK redirect (slots migrating)
            # through its retry loop; with none, every migrated slot would fail once.
            client: Any = RedisCluster.from_url(
                "redis://" + url[len("redis+cluster://"):], retry=Retry(NoBackoff(), 1),
                **common)
            return cls(client, cluster=True, **kwargs)
        client = Redis.from_url(url, retry=Retry(NoBackoff(), 0), health_check_interval=0,
                                **common)
        return cls(client, lean=lean_for(url, timeout), **kwargs)

    async def startup(self) -> None:
        """Load the scripts and start the flusher. Redis being down is not fatal: the proxy
        serves from local state and the breaker retries later."""
        self._wake = asyncio.Event()
        try:
            await self._load_scripts()
            self.breaker.success()
        except StoreUnavailable as exc:
            self.breaker.failure()
            logger.warning("redis unavailable at startup, serving from local state: %s", exc)
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    async def aclose(self, deadline: float = 2.0) -> None:
        """Flush what is pending (within ``deadline`` seconds), stop the flusher, close."""
        self._closing = True
        await stop(self._task)
        end = time.monotonic() + deadline
        while (self._dirty or self._links or self._riding()) and time.monotonic() < end:
            if not await self._flush_batch():
                break
        if self._dirty:
            logger.warning("closing with %d profiles not synced to redis", len(self._dirty))
        for client in {id(c): c for c in (self.write_client, self.client)}.values():
            try:
                await client.aclose()
            except Exception:  # closing a broken connection: nothing left to do
                pass

    # -- riders: more increments sent in the flusher's pipeline -------------------------------

    def add_rider(self, rider: Any) -> None:
        """Send ``rider``'s pending commands with every flush. A rider has ``pending() ->
        bool``, ``drain(pipe) -> (n commands, token)`` and ``settle(token, replies | None)``
        (None: the pipeline failed, the rider keeps what it drained for the next flush)."""
        self._riders.append(rider)

    def wake(self) -> None:
        """Ask the flusher for a flush soon (a rider got something pending)."""
        if self._wake is not None:
            self._wake.set()

    def _riding(self) -> bool:
        return any(r.pending() for r in self._riders)

    async def _load_scripts(self) -> None:
        try:
            if self.cluster:
                await self.client.initialize()
            self._apply_sha = await self.client.script_load(redis_scripts.APPLY)
            self._undo_sha = await self.client.script_load(redis_scripts.UNDO)
        except Exception as exc:
            raise StoreUnavailable(f"redis: {exc!r}") from exc

    # -- keys ---------------------------------------------------------------------------------

    def _rid(self, key: str) -> tuple[str, int]:
        """The Redis id (hash tag) and TTL of a local key."""
        if key.startswith(PROFILE_PREFIX):
            return key[len(PROFILE_PREFIX):], self.profile_ttl
        return "s" + self.pseudonym("s:" + key), self.session_ttl

    def key(self, rid: str, suffix: str) -> str:
        """The one key builder: ``P:{rid}:suffix`` (the hash tag keeps a profile in one slot)."""
        return f"{self.prefix}:{{{rid}}}:{suffix}"

    def _keys(self, rid: str) -> list[str]:
        return [self.key(rid, s) for s in _SUFFIXES]

    def link_key(self, device: str) -> str:
        return self.key(self.pseudonym("d:" + device), "l")

    # -- the request path (no await) ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._local)

    def get(self, key: str, now: float) -> SessionState | None:
        entry = self._local.get(key)
        if entry is None or entry.ready is not None:
            return None
        if now - entry.touched > (self.profile_ttl if key.startswith(PROFILE_PREFIX)
                                  else self.session_ttl):
            self._drop(key, entry)
            self.stats_["expirations"] += 1
            return None
        entry.touched = now
        self._local.move_to_end(key)
        if now - entry.synced_at > self.refresh_after and key not in self._dirty:
            self._mark(entry)  # a zero delta: the next flush brings the shared total back
        return entry.state

    def create(self, key: str, now: float) -> SessionState:
        entry = _Entry(key, SessionState(self.config), None, 0.0, now)
        self._put(entry)
        return entry.state

    def get_or_create(self, key: str, now: float) -> tuple[SessionState, bool]:
        state = self.get(key, now)
        if state is not None:
            return state, False
        return self.create(key, now), True

    def changed(self, key: str) -> None:
        entry = self._local.get(key)
        if entry is not None and key not in self._dirty:
            self._mark(entry)

    def delete(self, key: str) -> bool:
        entry = self._local.pop(key, None)
        self._dirty.pop(key, None)
        return entry is not None

    def _put(self, entry: _Entry) -> None:
        local = self._local
        local[entry.key] = entry
        while len(local) > self.capacity:
            key, old = local.popitem(last=False)
            self.stats_["evictions"] += 1
            if key not in self._dirty and (old.unacked or old.state.v != (
                    old.base.v if old.base else None)):
                self.stats_["unsynced_evicted"] += 1

    def _drop(self, key: str, entry: _Entry) -> None:
        del self._local[key]

    def _mark(self, entry: _Entry) -> None:
        dirty = self._dirty
        if len(dirty) >= self.backlog:
            # Not queued: the changes stay in the local state (the next change queues it
            # again); counted, and lost only if the entry is evicted before that.
            self.stats_["backlog_overflow"] += 1
            return
        dirty[entry.key] = entry
        if len(dirty) == 1 and self._wake is not None:
            self._wake.set()

    # -- identify -----------------------------------------------------------------------------

    def merge(self, profile_key: str, merge_id: str, contribution: SessionState | None,
              device: str, now: float) -> bool:
        """Queue the device's session for merging into the profile (at most once per
        ``merge_id``, decided atomically in Redis) and link the device. The local profile shows
        the merge at once; the flush (started right away) brings the shared total."""
        delta = (sync_delta(contribution, None, now) if contribution is not None
                 else SyncDelta([0.0] * _NV, 0.0, [], [], now))
        entry = self._local.get(profile_key)
        if entry is None:
            state = SessionState(self.config)
            entry = _Entry(profile_key, state, None, 0.0, now)
            try:
                entry.ready = asyncio.get_running_loop().create_future()
            except RuntimeError:  # no loop (unit tests driving the store synchronously)
                entry.ready = None
            self._put(entry)
        if any(m[0] == merge_id for m in entry.merges):
            self.stats_["merges_repeated"] += 1
            return False
        # Shown locally now; kept out of the pending delta (it travels as the merge, once).
        add_delta(entry.state, delta, now)
        if entry.base is None:
            entry.base = SessionState(self.config)
        add_delta(entry.base, delta, now)
        if len(entry.merges) >= _MAX_PENDING_MERGES:
            # Redis has been away a long time and this profile keeps being merged into: the
            # contribution stays in the local profile, unjournalled; counted.
            self.stats_["backlog_overflow"] += 1
            return False
        dev = self.pseudonym("d:" + device)
        entry.merges.append((merge_id, dev, delta))
        self._queue_link((self.link_key(device), profile_key[len(PROFILE_PREFIX):], "set"))
        self.stats_["merges"] += 1
        if profile_key not in self._dirty:
            self._mark(entry)
        if self._wake is not None:
            self._wake.set()
        return True

    def unlink(self, device: str) -> bool:
        self._queue_link((self.link_key(device), "", None))
        if self._wake is not None:
            self._wake.set()
        return True

    def _queue_link(self, op: tuple[str, str, str | None]) -> None:
        if len(self._links) >= self.backlog:
            self.stats_["backlog_overflow"] += 1  # the next identify of that device sets it
            return
        self._links.append(op)

    # -- fetch: the one round trip a request may wait for --------------------------------------

    async def fetch(self, key: str) -> None:
        """Bring ``key``'s shared state into the local cache if Redis has it. Never raises:
        with Redis away (breaker open, timeout) the caller starts from a fresh local state,
        and the flush later adds it to what Redis holds."""
        entry = self._local.get(key)
        if entry is not None:
            if entry.ready is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(entry.ready), self.wait_ready)
                except (TimeoutError, Exception):
                    self.stats_["fetch_errors"] += 1
                entry.ready = None  # classify from what is here
            return
        pending = self._inflight.get(key)
        if pending is not None:
            await asyncio.shield(pending)
            return
        if not self.breaker.allow():
            self.stats_["fetch_skipped"] += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        self.stats_["fetches"] += 1
        try:
            now = self.clock()
            rid, ttl = self._rid(key)
            row = await self._call_one(self._keys(rid), f"{ttl} {self.writer} 0 0", now)
            self.breaker.success()
            if key not in self._local and row[0]:  # b"": Redis holds nothing for it
                shared = self._shared(row)
                entry = _Entry(key, shared.copy(), shared, now, now)
                self._put(entry)
                self.stats_["fetch_hits"] += 1
        except Exception as exc:
            self.stats_["fetch_errors"] += 1
            self.breaker.failure()
            logger.debug("redis fetch failed: %r", exc)
        finally:
            del self._inflight[key]
            fut.set_result(None)

    async def _call_one(self, keys: list[str], args: str, now: float) -> Any:
        """One apply call without a pipeline (a pipeline costs ~100 µs of client CPU more)."""
        head = (now, self.config.half_life, self.undo_ttl, PRODUCT_RING, CATEGORY_RING)
        rows = await self._evalsha("_apply_sha", keys, *head, args)
        return rows[0]

    async def _evalsha(self, script: str, keys: list[str], *args: object) -> Any:
        """Run a loaded script (``script`` names its sha attribute); when Redis has forgotten
        it (NOSCRIPT: a restart, SCRIPT FLUSH) load the scripts again and run it once more."""
        from redis.exceptions import NoScriptError

        for attempt in (0, 1):
            try:
                return await self.write_client.execute_command(
                    "EVALSHA", getattr(self, script), len(keys), *keys, *args)
            except NoScriptError:
                if attempt:
                    raise
                await self._load_scripts()
        raise AssertionError("unreachable")

    def _shared(self, row: list[Any]) -> SessionState:
        x = list(map(float, row[0].split()))
        return shared_state(x[0], x[1], x[2], x[3], x[4:4 + _NV],
                            list(map(int, row[1][:PRODUCT_RING])),
                            list(map(int, row[2][:CATEGORY_RING])), self.config)

    # -- the flusher --------------------------------------------------------------------------

    async def _flusher(self) -> None:
        assert self._wake is not None
        while not self._closing:
            if not self._dirty and not self._links and not self._riding():
                self._wake.clear()
                await self._wake.wait()
                continue
            await asyncio.sleep(self.flush_interval)  # let a burst of changes coalesce
            wait = self.breaker.wait_time()
            if wait > 0.0:
                await asyncio.sleep(wait)
                continue
            try:
                # Drain what is pending now, batch after batch; what changes meanwhile waits
                # for the next interval (so one hot key is sent once per interval at most).
                rounds = -(-len(self._dirty) // self.batch) + 1
                for _ in range(rounds):
                    if not (self._dirty or self._links or self._riding()) \
                            or not await self._flush_batch():
                        break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the flusher die
                logger.warning("redis flush failed unexpectedly: %r", exc)

    async def flush(self) -> None:
        """Flush everything pending now (tests, shutdown)."""
        while self._dirty or self._links or self._riding():
            if not await self._flush_batch():
                raise StoreUnavailable("redis unavailable: changes kept for later")

    async def _flush_batch(self) -> bool:
        """Send one batch; False when Redis failed (the batch is kept). One batch at a time:
        an entry's sync base is only right if no other sync of it is in flight."""
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            return await self._flush_one_batch()

    async def _flush_one_batch(self) -> bool:
        dirty = self._dirty
        entries: list[_Entry] = []
        for key in list(dirty)[: self.batch]:
            entries.append(dirty.pop(key))
        links, self._links = self._links[: self.batch], self._links[self.batch:]
        now = self.clock()
        calls: list[tuple[list[str], str]] = []
        sent: list[_Sent] = []
        for n, entry in enumerate(entries):
            if n and n % _SLICE == 0:
                await asyncio.sleep(0)  # never hold the event loop for a whole batch
            snap = entry.state.copy()
            delta = sync_delta(snap, entry.base, now)
            merges, entry.merges = entry.merges, []
            deltas = list(entry.unacked)
            ref: SessionState | None = snap
            if not delta.is_empty():
                if len(deltas) < _MAX_UNACKED:
                    deltas.append((next(self._seq), delta))
                else:  # too many answers lost: the change waits in the local state
                    ref = entry.base
            rid, ttl = self._rid(entry.key)
            args = f"{ttl} {self.writer} {len(deltas)}"
            for seq, d in deltas:
                args += f" {seq} {_block(d)}"
            args += f" {len(merges)}"
            for mid, dev, md in merges:
                args += f" {mid} {dev or '-'} {_block(md)}"
            calls.append((self._keys(rid), args))
            sent.append(_Sent(entry, ref, merges, deltas))
        self.stats_["flushes"] += 1
        try:
            rows = await self._apply(calls, now, links)
        except Exception as exc:
            self._requeue(sent, links)
            self.stats_["flush_errors"] += 1
            self.breaker.failure()
            logger.warning("redis flush failed: %r", exc)
            return False
        self.breaker.success()
        failed: list[_Sent] = []
        after = self.clock()
        for n, (item, row) in enumerate(zip(sent, rows, strict=True)):
            if n and n % _SLICE == 0:
                await asyncio.sleep(0)
                after = self.clock()
            entry = item.entry
            _release(entry)
            if isinstance(row, Exception):
                failed.append(item)
                continue
            entry.unacked = []
            if not row[0]:
                # Redis holds nothing for it (expired there, or Redis restarted empty): what
                # this process knows is sent whole with the next flush.
                entry.base = None
                entry.synced_at = after
                if entry.key not in self._dirty:
                    self._mark(entry)
                continue
            shared = self._shared(row)
            extra = sync_delta(entry.state, item.ref, after)
            base = shared.copy()
            for _mid, _dev, md in entry.merges:
                # Merged here while this flush was in flight: shown in the state (so in
                # ``extra``) and still to travel as a merge, so not part of the next delta.
                add_delta(base, md, after)
            entry.base = base
            adopt(entry.state, shared, None if extra.is_empty() else extra, after)
            entry.synced_at = after
            self.stats_["flushed_keys"] += 1
        if failed:
            self._requeue(failed, [])
            return False
        return True

    def _requeue(self, sent: list[_Sent], links: list[tuple[str, str, str | None]]) -> None:
        """Put a failed batch back in front of the queue. Its deltas may or may not have been
        applied (a reply lost after the script ran): they are kept to be sent again with the
        same sequence numbers, and the base moves past them so nothing is sent under a new one.
        Merges are idempotent by merge id and go back as they were."""
        back: dict[str, _Entry] = {}
        for item in sent:
            entry = item.entry
            _release(entry)
            entry.merges = item.merges + entry.merges
            entry.unacked = item.deltas
            entry.base = item.ref
            back[entry.key] = entry
        for key, entry in self._dirty.items():
            if key not in back:
                back[key] = entry
        overflow = len(back) - self.backlog
        if overflow > 0:
            self.stats_["backlog_overflow"] += overflow
            back = dict(list(back.items())[: self.backlog])
        self._dirty = back
        self._links = links + self._links

    def _groups(self, calls: list[tuple[list[str], str]]) -> list[list[int]]:
        """Indices of ``calls`` that go into one script call: one Cluster slot each, or
        ``_SCRIPT_KEYS`` on a single server (a script blocks the server while it runs: small
        calls let other clients' commands in between)."""
        if not self.cluster:
            return [list(range(i, min(i + _SCRIPT_KEYS, len(calls))))
                    for i in range(0, len(calls), _SCRIPT_KEYS)]
        from redis.crc import key_slot

        groups: dict[int, list[int]] = {}
        for i, (keys, _) in enumerate(calls):
            groups.setdefault(key_slot(keys[0].encode()), []).append(i)
        return list(groups.values())

    async def _run(self, groups: list[list[int]], calls: list[tuple[list[str], str]],
                   now: float, links: list[tuple[str, str, str | None]] | None) -> list[Any]:
        head = [now, self.config.half_life, self.undo_ttl, PRODUCT_RING, CATEGORY_RING]
        pipe = self.write_client.pipeline(transaction=False)
        for idx in groups:
            keys = [k for i in idx for k in calls[i][0]]
            argv = [calls[i][1] for i in idx]
            # execute_command: redis-py's cluster pipeline refuses the evalsha() helper, but
            # routes the raw command by its first key (all keys of a call share one slot).
            pipe.execute_command("EVALSHA", self._apply_sha, len(keys), *keys, *head, *argv)
        for key, profile, op in links or ():
            if op == "set":
                pipe.set(key, profile, ex=self.profile_ttl)
            else:
                pipe.delete(key)
        riders = [(r, *r.drain(pipe)) for r in self._riders
                  if links is not None and r.pending()]
        try:
            results = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for rider, _n, token in riders:
                rider.settle(token, None)
            raise StoreUnavailable(f"redis: {exc!r}") from exc
        end = len(results)
        for rider, n, token in reversed(riders):
            rider.settle(token, list(results[end - n:end]))
            end -= n
        for r in results[len(groups):end]:
            if isinstance(r, Exception):
                raise StoreUnavailable(f"redis link write: {r!r}")
        return list(results[: len(groups)])

    async def _apply(self, calls: list[tuple[list[str], str]], now: float,
                     links: list[tuple[str, str, str | None]] | None = None) -> list[Any]:
        """Run the apply script for ``calls`` plus the link writes in one pipeline; one row per
        call (or its group's exception). A group the server answered NOSCRIPT did not run: the
        scripts are loaded again and only those groups re-sent. Nothing else is retried."""
        groups = self._groups(calls)
        results = await self._run(groups, calls, now, links)
        todo = [j for j, r in enumerate(results) if _noscript(r)]
        if todo:
            await self._load_scripts()
            again = await self._run([groups[j] for j in todo], calls, now, None)
            for j, r in zip(todo, again, strict=True):
                results[j] = r
        rows: list[Any] = [None] * len(calls)
        for idx, r in zip(groups, results, strict=True):
            for j, i in enumerate(idx):
                rows[i] = r if isinstance(r, Exception) else r[j]
        return rows

    # -- admin: erasure and undo --------------------------------------------------------------

    async def erase_profile(self, profile: str) -> int:
        """Delete a profile's keys and its devices' links; returns the number of keys removed.
        Pending writes go first, so none lands after the deletion and recreates the profile."""
        self.delete(PROFILE_PREFIX + profile)
        await self.flush()
        keys = self._keys(profile)
        try:
            devices = await self.client.smembers(keys[4])
            links = [self.key(d.decode() if isinstance(d, bytes) else d, "l") for d in devices]
            removed = 0
            for k in keys + links:  # one slot per call: works on a Cluster too
                removed += int(await self.client.delete(k))
            return removed
        except Exception as exc:
            raise StoreUnavailable(f"redis: {exc!r}") from exc

    async def merges_of(self, profile: str, now: float) -> list[dict[str, object]]:
        try:
            raw = await self.client.hgetall(self._keys(profile)[3])
        except Exception as exc:
            raise StoreUnavailable(f"redis: {exc!r}") from exc
        out = []
        for mid, rec in raw.items():
            at, values = orjson.loads(rec)[:2]
            if now - at <= self.undo_ttl:
                out.append({"id": mid.decode() if isinstance(mid, bytes) else mid, "at": at,
                            "events": int(values[_NV - 3])})
        return sorted(out, key=lambda m: float(str(m["at"])))

    async def undo_merge(self, profile: str, merge_id: str, now: float) -> int:
        """1 undone, 0 no such merge, -1 older than the undo period. The local copy is dropped
        so the next request reads the corrected profile."""
        keys = self._keys(profile)
        try:
            reply = await self._evalsha(
                "_undo_sha", [keys[0], keys[1], keys[3], keys[4]], merge_id, now,
                self.config.half_life, self.undo_ttl)
            if not isinstance(reply, list):
                return int(reply)
            device = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
            if device != "-":  # the device's link lives in its own slot
                await self.client.delete(self.key(device, "l"))
        except Exception as exc:
            raise StoreUnavailable(f"redis: {exc!r}") from exc
        self.delete(PROFILE_PREFIX + profile)
        return 1

    def devices_of(self, profile: str) -> list[str]:
        """Raw device ids are never stored in Redis (only their pseudonyms, in ``P:{id}:d``):
        there are none to give; ``erase_profile`` removes the devices' links itself."""
        return []

    # -- metrics ------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        out = dict(self.stats_)
        out.update(size=len(self._local), capacity=self.capacity, backlog=len(self._dirty),
                   pending_links=len(self._links), up=int(self.breaker.closed),
                   breaker_trips=self.breaker.trips)
        return out


class _Sent(NamedTuple):
    """One key of a flush in flight: ``ref`` is the state Redis's total reflects once the sent
    deltas are applied (the snapshot the delta was taken from, or the old base when the new
    change had to wait), then what was sent."""

    entry: _Entry
    ref: SessionState | None
    merges: list[tuple[str, str, SyncDelta]]
    deltas: list[tuple[int, SyncDelta]]


def _release(entry: _Entry) -> None:
    """Let requests waiting on ``entry`` proceed (its sync came back, or failed)."""
    ready = entry.ready
    if ready is not None:
        entry.ready = None
        if not ready.done():
            ready.set_result(None)


def _noscript(result: object) -> bool:
    from redis.exceptions import NoScriptError

    return isinstance(result, NoScriptError)
