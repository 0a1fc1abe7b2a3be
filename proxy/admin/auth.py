"""Who may use the admin surface, checked in this order on every admin request: the address
allow-list, the failure throttle, the bearer token, the token's role.

The address is the connection's peer, or — only when that peer is one of ``trusted_hops`` — the
nearest untrusted address in ``X-Forwarded-For`` (a client cannot forge its way past the list).
Tokens are held as SHA-256 digests only; the presented token is hashed once and compared with
every digest in constant time. Nothing here runs on the shoppers' request path.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, Literal

from proxy.admin.surface import HTTPError, header
from proxy.types import Scope

Role = Literal["read", "write"]
_RANK = {"read": 0, "write": 1}
SCOPE_KEY = "intentgate.admin"  # the Principal of an admin request, set on its scope


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made an admin request: the token's name and role, and the client address."""

    name: str
    role: str
    address: str


class TokenSet:
    """Named tokens with roles, held as SHA-256 digests."""

    def __init__(self, entries: Iterable[tuple[str, str, bytes]]) -> None:
        self.entries = tuple(entries)  # (name, role, digest)

    @classmethod
    def from_settings(cls, settings: Any) -> TokenSet:
        entries: list[tuple[str, str, bytes]] = []
        if settings.admin_token:
            entries.append(("admin", "write", _digest(settings.admin_token.encode())))
        if settings.admin_token_sha256:
            entries.append(("admin", "write", bytes.fromhex(settings.admin_token_sha256)))
        for spec in settings.admin_tokens:
            digest = (_digest(spec.token.encode()) if spec.token is not None
                      else bytes.fromhex(spec.sha256))
            entries.append((spec.name, spec.role, digest))
        return cls(entries)

    @classmethod
    def of(cls, admin_token: str | None) -> TokenSet:
        """One ``write`` token named ``admin`` (or none)."""
        return cls([("admin", "write", _digest(admin_token.encode()))] if admin_token else [])

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, presented: bytes) -> tuple[str, str] | None:
        """``(name, role)`` of the token, or None. Every digest is compared (no early exit)."""
        digest = _digest(presented)
        found: tuple[str, str] | None = None
        for name, role, expected in self.entries:
            if hmac.compare_digest(digest, expected) and found is None:
                found = (name, role)
        return found


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


Network = IPv4Network | IPv6Network


class AddressPolicy:
    """The client address of an admin request, and whether the allow-list admits it."""

    def __init__(self, allow: Iterable[str] = (), trusted_hops: Iterable[str] = ()) -> None:
        self.allow: tuple[Network, ...] = tuple(ip_network(a, strict=False) for a in allow)
        # Exact addresses, as ``ForwardApp`` treats them, so both agree on who is trusted.
        self.trusted = frozenset(trusted_hops)

    def client(self, scope: Scope) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else ""
        if address not in self.trusted:
            return address
        forwarded = [v for k, v in scope["headers"] if k == b"x-forwarded-for"]
        hops = [h.strip() for v in forwarded for h in v.decode("latin-1").split(",")]
        # Right to left: the nearest hop a trusted proxy saw; stop at the first untrusted one.
        for hop in reversed([h for h in hops if h]):
            address = hop
            if hop not in self.trusted:
                break
        return address

    def allowed(self, address: str) -> bool:
        if not self.allow:
            return True
        try:
            ip = ip_address(address.split("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.allow)


class FailureThrottle:
    """Per-address leaky bucket of token failures: ``burst`` failures, then 429 until the bucket
    has leaked below it (``burst`` per ``window_s``). Only failures fill an address's bucket, so
    one address's guessing never slows another's valid token. At most ``capacity`` addresses
    are remembered (least recently failed forgotten first)."""

    def __init__(self, *, burst: int = 10, window_s: float = 60.0, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.rate = burst / window_s  # failures leaked per second
        self.capacity = capacity
        self.clock = clock
        self._level: OrderedDict[str, tuple[float, float]] = OrderedDict()  # addr -> (lvl, t)

    def _current(self, address: str, now: float) -> float:
        entry = self._level.get(address)
        if entry is None:
            return 0.0
        level, then = entry
        return max(0.0, level - (now - then) * self.rate)

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try a token again; 0 when it may now."""
        level = self._current(address, self.clock())
        if level < self.burst:
            return 0
        return max(1, math.ceil((level - self.burst + 1) / self.rate))

    def failed(self, address: str) -> None:
        now = self.clock()
        self._level[address] = (self._current(address, now) + 1.0, now)
        self._level.move_to_end(address)
        while len(self._level) > self.capacity:
            self._level.popitem(last=False)


class AdminGuard:
    """The four checks of the module docstring; ``check`` returns the ``Principal`` or raises
    ``HTTPError`` (403 address, 429 throttled, 401 token, 403 role). Refusals are counted."""

    def __init__(self, tokens: TokenSet, policy: AddressPolicy | None = None,
                 throttle: FailureThrottle | None = None) -> None:
        self.tokens = tokens
        self.policy = policy if policy is not None else AddressPolicy()
        self.throttle = throttle if throttle is not None else FailureThrottle()
        self.refused: dict[str, int] = defaultdict(int)  # reason -> count

    @classmethod
    def from_settings(cls, settings: Any) -> AdminGuard:
        return cls(TokenSet.from_settings(settings),
                   AddressPolicy(settings.admin_allow, settings.trusted_hops))

    def admit(self, scope: Scope) -> str:
        """The client address, when the allow-list admits it; else 403."""
        address = self.policy.client(scope)
        if not self.policy.allowed(address):
            self.refused["address"] += 1
            raise HTTPError(403, "this address may not use the admin surface (admin_allow)")
        return address

    def check(self, scope: Scope, role: str) -> Principal:
        address = self.admit(scope)
        wait = self.throttle.retry_after(address)
        if wait:
            self.refused["throttled"] += 1
            raise HTTPError(429, "too many failed tokens from this address",
                            [(b"retry-after", str(wait).encode())])
        if not self.tokens:
            self.refused["disabled"] += 1
            raise HTTPError(401, "admin API disabled: set INTENTGATE_ADMIN_TOKEN")
        auth = header(scope, b"authorization") or b""
        scheme, _, presented = auth.partition(b" ")
        found = self.tokens.match(presented.strip()) if scheme.lower() == b"bearer" else None
        if found is None:
            self.refused["token"] += 1
            self.throttle.failed(address)
            raise HTTPError(401, "missing or wrong bearer token",
                            [(b"www-authenticate", b'Bearer realm="intentgate"')])
        name, granted = found
        principal = Principal(name, granted, address)
        if _RANK[granted] < _RANK.get(role, 1):
            self.refused["role"] += 1
            scope[SCOPE_KEY] = principal
            raise HTTPError(403, f"token {name!r} has role {granted}; this needs {role}")
        return principal

    def stats(self) -> dict[str, float]:
        return {f"reason={k}": float(v) for k, v in self.refused.items()}
