from __future__ import annotations

from signals.events import EventKind, ShopperEvent
from signals.state import SessionState
from signals.store import MemoryStore


def test_memory_store_creates_then_returns_the_same_state() -> None:
    store = MemoryStore(capacity=10, idle_ttl=60.0)
    a, created = store.get_or_create("s1", 0.0)
    b, again = store.get_or_create("s1", 1.0)
    assert created and not again and a is b
    assert store.stats()["hits"] == 1 and store.stats()["misses"] == 1


def test_memory_store_is_a_bounded_lru() -> None:
    store = MemoryStore(capacity=3, idle_ttl=1e9)
    for i in range(3):
        store.get_or_create(f"s{i}", float(i))
    store.get("s0", 3.0)  # s0 becomes the most recently used
    store.get_or_create("s3", 4.0)
    assert store.get("s1", 5.0) is None  # evicted, not s0
    assert store.get("s0", 5.0) is not None
    assert len(store) == 3 and store.stats()["evictions"] == 1


def test_memory_store_never_returns_expired_entries() -> None:
    store = MemoryStore(capacity=10, idle_ttl=30.0)
    store.get_or_create("s", 0.0)
    assert store.get("s", 29.0) is not None  # touching renews the idle timer
    assert store.get("s", 58.0) is not None
    assert store.get("s", 100.0) is None
    assert store.stats()["expirations"] == 1


def test_memory_store_device_links() -> None:
    store = MemoryStore(capacity=10, idle_ttl=30.0, link_ttl=100.0)
    store.link("dev", "profile-1", 0.0)
    assert store.profile_of("dev", 50.0) == "profile-1"
    assert store.devices_of("profile-1") == ["dev"]
    assert store.unlink("dev") and store.profile_of("dev", 51.0) is None
    store.link("dev", "profile-1", 0.0)
    assert store.profile_of("dev", 500.0) is None  # link expired


def _compares(n: int, ts: float = 100.0) -> SessionState:
    s = SessionState()
    for i in range(n):
        s.apply(ShopperEvent(EventKind.COMPARE, ts, product=f"p{i}"))
    return s


async def test_memory_store_merges_a_session_into_a_profile_once_and_undoes_it() -> None:
    store = MemoryStore(capacity=10, idle_ttl=60.0, undo_ttl=50.0)
    assert store.merge("p:alice", "m1", _compares(3), "dev-a", 100.0)
    assert not store.merge("p:alice", "m1", _compares(3), "dev-a", 101.0)  # repeated: no-op
    assert store.merge("p:alice", "m2", _compares(2), "dev-b", 100.0)
    profile = store.get("p:alice", 100.0)
    assert profile is not None and profile.events_seen == 5
    assert profile.counter(EventKind.COMPARE, 100.0) == 5.0
    assert store.profile_of("dev-b", 100.0) == "alice"
    assert [m["id"] for m in await store.merges_of("alice", 120.0)] == ["m1", "m2"]
    assert await store.undo_merge("alice", "m2", 120.0) == 1
    assert await store.undo_merge("alice", "m2", 120.0) == 0
    assert profile.events_seen == 3 and store.profile_of("dev-b", 120.0) is None
    assert abs(profile.counter(EventKind.COMPARE, 120.0) - 3 * 2 ** (-20 / 600)) < 1e-9
    assert await store.undo_merge("alice", "m1", 200.0) == -1  # past the undo period
    assert await store.erase_profile("alice") == 2  # the state and the remaining merge
    assert store.get("p:alice", 200.0) is None and await store.merges_of("alice", 200.0) == []


def test_memory_store_keeps_profiles_beyond_the_session_ttl() -> None:
    store = MemoryStore(capacity=10, idle_ttl=10.0, profile_ttl=1000.0)
    store.create("session", 0.0)
    store.create("p:bob", 0.0)
    assert store.get("session", 50.0) is None
    assert store.get("p:bob", 50.0) is not None
