from __future__ import annotations

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
