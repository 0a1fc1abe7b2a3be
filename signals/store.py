"""Profile stores: where session states and device -> profile links live.

``MemoryStore`` is the embedded default: a bounded LRU with an idle TTL, enough for one process
and a demo. Stores are the one impure part of signals (they keep state across calls), and the
``ProfileStore`` protocol is the seam a Redis store plugs into. Time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from signals.state import (
    DEFAULT_CONFIG,
    SYNC_FIELDS,
    SessionState,
    StateConfig,
    SyncDelta,
    add_delta,
    sync_delta,
)

# Local keys: a session's signed token, or PROFILE_PREFIX + the profile pseudonym once the origin
# has said who the shopper is (the profile then follows them across devices).
PROFILE_PREFIX = "p:"


class ProfileStore(Protocol):
    """What the engine, the app's lifecycle and the admin surface need from a store: one seam,
    so no caller asks which store it has. ``remote`` stores may hold a key elsewhere: the
    engine then awaits ``fetch`` once before creating it (``proxy.engine``). ``client`` is the
    shared server's client (the audit log and the export stream write through it), ``None``
    for a store in this process; ``write_client`` the client the write-behind paths send
    through (``client``, or a leaner one for the same server: ``signals.resp``); ``cluster``
    says whether that server is a Redis Cluster (keys that go together must share a hash
    slot)."""

    remote: bool
    client: Any
    write_client: Any
    cluster: bool

    async def startup(self) -> None: ...
    async def aclose(self, deadline: float = 2.0) -> None: ...
    async def flush(self) -> None: ...
    def devices_of(self, profile: str) -> list[str]: ...

    def get(self, key: str, now: float) -> SessionState | None: ...
    def create(self, key: str, now: float) -> SessionState: ...
    def changed(self, key: str) -> None: ...
    def get_or_create(self, key: str, now: float) -> tuple[SessionState, bool]: ...
    def delete(self, key: str) -> bool: ...
    def merge(self, profile_key: str, merge_id: str, contribution: SessionState | None,
              device: str, now: float) -> bool: ...
    def unlink(self, device: str) -> bool: ...
    async def fetch(self, key: str) -> None: ...
    async def merges_of(self, profile: str, now: float) -> list[dict[str, object]]: ...
    async def undo_merge(self, profile: str, merge_id: str, now: float) -> int: ...
    async def erase_profile(self, profile: str) -> int: ...
    def stats(self) -> dict[str, int]: ...


class _LRU:
    """OrderedDict LRU with idle expiry: value, last-touched time."""

    __slots__ = ("data", "capacity", "ttl", "hits", "misses", "evictions", "expirations")

    def __init__(self, capacity: int, ttl: float) -> None:
        self.data: OrderedDict[str, tuple[object, float]] = OrderedDict()
        self.capacity = capacity
        self.ttl = ttl
        self.hits = self.misses = self.evictions = self.expirations = 0

    def get(self, key: str, now: float) -> object | None:
        item = self.data.get(key)
        if item is None:
            self.misses += 1
            return None
        value, touched = item
        if now - touched > self.ttl:
            del self.data[key]
            self.expirations += 1
            self.misses += 1
            return None
        self.data[key] = (value, now)
        self.data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: str, value: object, now: float) -> None:
        data = self.data
        data[key] = (value, now)
        data.move_to_end(key)
        while len(data) > self.capacity:
            _, (_, touched) = data.popitem(last=False)
            if now - touched > self.ttl:
                self.expirations += 1
            else:
                self.evictions += 1

    def pop(self, key: str) -> bool:
        return self.data.pop(key, None) is not None


class MergeRecord:
    """One identify merge, kept for undo: what was added to which profile, when, from where."""

    __slots__ = ("profile_key", "merge_id", "delta", "device")

    def __init__(self, profile_key: str, merge_id: str, delta: SyncDelta, device: str) -> None:
        self.profile_key = profile_key
        self.merge_id = merge_id
        self.delta = delta
        self.device = device

    def to_dict(self) -> dict[str, object]:
        return {"id": self.merge_id, "at": self.delta.at, "device": self.device,
                "events": int(self.delta.values[-3])}


class MemoryStore:
    """Bounded, TTL'd session states, profiles and device links for one process."""

    remote = False
    client = None
    write_client = None
    cluster = False

    def __init__(
        self,
        capacity: int = 200_000,
        idle_ttl: float = 1800.0,
        *,
        half_life: float = 600.0,
        dwell_cap: float = 300.0,
        link_ttl: float = 30 * 86400.0,
        profile_ttl: float = 30 * 86400.0,
        undo_ttl: float = 7 * 86400.0,
        max_merges: int = 10_000,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.config = StateConfig(half_life=half_life, dwell_cap=dwell_cap)
        self._states = _LRU(capacity, idle_ttl)
        self._profiles = _LRU(capacity, profile_ttl)
        self._links = _LRU(capacity, link_ttl)
        self._merges: OrderedDict[str, MergeRecord] = OrderedDict()
        self.capacity = capacity
        self.undo_ttl = undo_ttl
        self.max_merges = max_merges

    def __len__(self) -> int:
        return len(self._states.data) + len(self._profiles.data)

    def _lru(self, key: str) -> _LRU:
        return self._profiles if key.startswith(PROFILE_PREFIX) else self._states

    def get(self, key: str, now: float) -> SessionState | None:
        value = self._lru(key).get(key, now)
        return value if isinstance(value, SessionState) else None

    def create(self, key: str, now: float) -> SessionState:
        state = SessionState(self.config if self.config != DEFAULT_CONFIG else DEFAULT_CONFIG)
        self._lru(key).put(key, state, now)
        return state

    def changed(self, key: str) -> None:
        """The state of ``key`` took an event (nothing to do: this store is the truth)."""

    async def fetch(self, key: str) -> None:
        """Nothing is held elsewhere (``remote`` is False: the engine never asks)."""

    def get_or_create(self, key: str, now: float) -> tuple[SessionState, bool]:
        state = self.get(key, now)
        if state is not None:
            return state, False
        return self.create(key, now), True

    def put(self, key: str, state: SessionState, now: float) -> None:
        self._lru(key).put(key, state, now)

    def delete(self, key: str) -> bool:
        return self._lru(key).pop(key)

    # -- identify: merging a device's session into a shopper's profile ---------------------

    def merge(self, profile_key: str, merge_id: str, contribution: SessionState | None,
              device: str, now: float) -> bool:
        """Add ``contribution`` (the device's session) to the profile once per ``merge_id``
        and link the device; a repeated merge changes nothing and returns False."""
        self.link(device, profile_key[len(PROFILE_PREFIX):], now)
        if merge_id in self._merges:
            return False
        profile, _ = self.get_or_create(profile_key, now)
        delta = sync_delta(contribution, None, now) if contribution is not None else None
        if delta is not None:
            add_delta(profile, delta, now)
        else:
            delta = SyncDelta([0.0] * len(SYNC_FIELDS), 0.0, [], [], now)
        self._merges[merge_id] = MergeRecord(profile_key, merge_id, delta, device)
        while len(self._merges) > self.max_merges:
            self._merges.popitem(last=False)
        return True

    # The admin surface's calls: the same, async, signatures as RedisStore's.

    async def merges_of(self, profile: str, now: float) -> list[dict[str, object]]:
        """The profile's merges that can still be undone, oldest first."""
        key = PROFILE_PREFIX + profile
        return [m.to_dict() for m in self._merges.values()
                if m.profile_key == key and now - m.delta.at <= self.undo_ttl]

    async def undo_merge(self, profile: str, merge_id: str, now: float) -> int:
        """Take a merge's contribution back out of the profile (decayed to ``now``) and unlink
        its device: 1 undone, 0 no such merge, -1 older than the undo period."""
        key = PROFILE_PREFIX + profile
        rec = self._merges.get(merge_id)
        if rec is None or rec.profile_key != key:
            return 0
        if now - rec.delta.at > self.undo_ttl:
            return -1
        del self._merges[merge_id]
        state = self.get(key, now)
        if state is not None:
            add_delta(state, rec.delta, now, sign=-1.0)
        self.unlink(rec.device)
        return 1

    async def erase_profile(self, profile: str) -> int:
        """Forget the profile's state and merge records; returns how many entries went."""
        key = PROFILE_PREFIX + profile
        mids = [mid for mid, m in self._merges.items() if m.profile_key == key]
        for mid in mids:
            del self._merges[mid]
        return int(self.delete(key)) + len(mids)

    def link(self, device: str, profile: str, now: float) -> None:
        self._links.put(device, profile, now)

    def unlink(self, device: str) -> bool:
        return self._links.pop(device)

    def profile_of(self, device: str, now: float) -> str | None:
        value = self._links.get(device, now)
        return value if isinstance(value, str) else None

    def devices_of(self, profile: str) -> list[str]:
        return [d for d, (p, _) in self._links.data.items() if p == profile]

    # Lifecycle: nothing to connect, start or flush for a store in this process.

    async def startup(self) -> None:
        return None

    async def aclose(self, deadline: float = 2.0) -> None:
        return None

    async def flush(self) -> None:
        return None

    def stats(self) -> dict[str, int]:
        s = self._states
        return {"capacity": self.capacity, "size": len(s.data) + len(self._profiles.data),
                "hits": s.hits,
                "misses": s.misses, "evictions": s.evictions, "expirations": s.expirations,
                "links": len(self._links.data)}
