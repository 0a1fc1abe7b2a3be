"""Profile stores: where session states and device -> profile links live.

``MemoryStore`` is the embedded default: a bounded LRU with an idle TTL, enough for one process
and a demo. Stores are the one impure part of signals (they keep state across calls), and the
``ProfileStore`` protocol is the seam a Redis store plugs into. Time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from signals.state import DEFAULT_CONFIG, SessionState, StateConfig


class ProfileStore(Protocol):
    def get(self, key: str, now: float) -> SessionState | None: ...
    def get_or_create(self, key: str, now: float) -> tuple[SessionState, bool]: ...
    def delete(self, key: str) -> bool: ...
    def link(self, device: str, profile: str, now: float) -> None: ...
    def unlink(self, device: str) -> bool: ...
    def profile_of(self, device: str, now: float) -> str | None: ...
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


class MemoryStore:
    """Bounded, TTL'd session states and device links for one process."""

    def __init__(
        self,
        capacity: int = 200_000,
        idle_ttl: float = 1800.0,
        *,
        half_life: float = 600.0,
        dwell_cap: float = 300.0,
        link_ttl: float = 30 * 86400.0,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.config = StateConfig(half_life=half_life, dwell_cap=dwell_cap)
        self._states = _LRU(capacity, idle_ttl)
        self._links = _LRU(capacity, link_ttl)
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self._states.data)

    def get(self, key: str, now: float) -> SessionState | None:
        value = self._states.get(key, now)
        return value if isinstance(value, SessionState) else None

    def get_or_create(self, key: str, now: float) -> tuple[SessionState, bool]:
        state = self.get(key, now)
        if state is not None:
            return state, False
        state = SessionState(self.config if self.config != DEFAULT_CONFIG else DEFAULT_CONFIG)
        self._states.put(key, state, now)
        return state, True

    def put(self, key: str, state: SessionState, now: float) -> None:
        self._states.put(key, state, now)

    def delete(self, key: str) -> bool:
        return self._states.pop(key)

    def link(self, device: str, profile: str, now: float) -> None:
        self._links.put(device, profile, now)

    def unlink(self, device: str) -> bool:
        return self._links.pop(device)

    def profile_of(self, device: str, now: float) -> str | None:
        value = self._links.get(device, now)
        return value if isinstance(value, str) else None

    def devices_of(self, profile: str) -> list[str]:
        return [d for d, (p, _) in self._links.data.items() if p == profile]

    def stats(self) -> dict[str, int]:
        s = self._states
        return {"capacity": self.capacity, "size": len(s.data), "hits": s.hits,
                "misses": s.misses, "evictions": s.evictions, "expirations": s.expirations,
                "links": len(self._links.data)}
