"""proxy/admin/auth.py: tokens held as digests, the client address behind trusted hops, the
allow-list, the per-address failure throttle and the order of the guard's checks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from proxy.admin.auth import AddressPolicy, AdminGuard, FailureThrottle, TokenSet
from proxy.admin.surface import HTTPError
from proxy.config import load_settings

GOOD = "a-good-token-of-some-length"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scope(client: str = "127.0.0.1", token: str | None = None,
          xff: str | None = None) -> dict[str, Any]:
    headers = []
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    return {"type": "http", "client": (client, 5000), "headers": headers}


def test_tokens_from_settings_plain_hashed_and_named() -> None:
    settings = load_settings(environ={}, overrides={
        "admin_token_sha256": hashlib.sha256(GOOD.encode()).hexdigest(),
        "admin_tokens": ({"name": "grafana", "role": "read", "token": "r" * 24},)})
    tokens = TokenSet.from_settings(settings)
    assert tokens.match(GOOD.encode()) == ("admin", "write")
    assert tokens.match(b"r" * 24) == ("grafana", "read")
    assert tokens.match(b"r" * 23) is None
    assert all(len(d) == 32 for _, _, d in tokens.entries)  # digests only, no token text
    assert not TokenSet.of(None)


def test_client_address_counts_forwarded_for_only_from_trusted_hops() -> None:
    policy = AddressPolicy(trusted_hops=("127.0.0.1", "10.0.0.5"))
    assert policy.client(scope("192.0.2.1", xff="10.9.9.9")) == "192.0.2.1"
    assert policy.client(scope("127.0.0.1", xff="10.9.9.9")) == "10.9.9.9"
    # Right to left, trusted hops skipped, the first untrusted one wins (a forged left entry
    # cannot be chosen).
    assert policy.client(scope("127.0.0.1", xff="10.1.1.1, 198.51.100.7, 10.0.0.5")) \
        == "198.51.100.7"
    assert policy.client(scope("127.0.0.1")) == "127.0.0.1"


def test_allow_list_matches_addresses_and_cidrs_v4_and_v6() -> None:
    policy = AddressPolicy(allow=("10.0.0.0/8", "192.0.2.7", "::1"))
    assert policy.allowed("10.200.3.4") and policy.allowed("192.0.2.7")
    assert policy.allowed("::1") and policy.allowed("::ffff:10.1.2.3")
    assert not policy.allowed("192.0.2.8") and not policy.allowed("not-an-ip")
    assert AddressPolicy().allowed("203.0.113.1")  # no list: any address


def test_throttle_blocks_after_the_burst_and_leaks_back() -> None:
    clock = Clock()
    throttle = FailureThrottle(burst=10, window_s=60.0, clock=clock)
    for _ in range(10):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
    assert throttle.retry_after("a") == 6  # one failure leaks away every 6 s
    assert throttle.retry_after("b") == 0  # another address is untouched
    clock.now += 6.0
    assert throttle.retry_after("a") == 0


def test_throttle_remembers_a_bounded_number_of_addresses() -> None:
    throttle = FailureThrottle(burst=1, capacity=3, clock=Clock())
    for address in ("a", "b", "c", "d"):
        throttle.failed(address)
    assert throttle.retry_after("a") == 0 and throttle.retry_after("d") > 0


def test_guard_checks_address_then_throttle_then_token_then_role() -> None:
    clock = Clock()
    guard = AdminGuard(TokenSet([("ops", "write", hashlib.sha256(GOOD.encode()).digest()),
                                 ("viewer", "read", hashlib.sha256(b"v" * 24).digest())]),
                       AddressPolicy(allow=("127.0.0.0/8",)),
                       FailureThrottle(burst=2, clock=clock))
    with pytest.raises(HTTPError) as exc:
        guard.check(scope("192.0.2.1", token=GOOD), "read")
    assert exc.value.status == 403
    for _ in range(2):
        with pytest.raises(HTTPError) as exc:
            guard.check(scope(token="wrong"), "read")
        assert exc.value.status == 401
    with pytest.raises(HTTPError) as exc:
        guard.check(scope(token=GOOD), "read")
    assert exc.value.status == 429
    assert (b"retry-after", b"30") in exc.value.headers
    principal = guard.check(scope("127.0.0.2", token=GOOD), "write")
    assert (principal.name, principal.role, principal.address) == ("ops", "write", "127.0.0.2")
    with pytest.raises(HTTPError) as exc:
        guard.check(scope("127.0.0.3", token="v" * 24), "write")
    assert exc.value.status == 403 and "role read" in exc.value.reason
    assert guard.stats() == {"reason=address": 1.0, "reason=token": 2.0,
                             "reason=throttled": 1.0, "reason=role": 1.0}
