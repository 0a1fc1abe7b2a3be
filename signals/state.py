"""Per-session state: exponentially time-decayed counters per event kind plus running quantities.

Pure: time arrives as ``ShopperEvent.ts`` or a ``now`` argument. The state has a fixed size
whatever the session does (one float array, two small rings of hashes), so a million sessions fit
in well under 2 GB.

Decay: a counter last brought up to date at ``t0`` is worth, at ``t``,

    c(t) = c(t0) · 2^(−(t − t0) / h)        (h = half-life, seconds)

and is brought up to date lazily, only when an event arrives. What the shopper does now outweighs
what they did twenty minutes ago, so the class can change within a session.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import NamedTuple
from zlib import crc32

from signals.events import N_KINDS, PAGE_KINDS, EventKind, ShopperEvent

# Layout of SessionState.v (float64): decayed counters first, indexed by EventKind.
_N_COUNTERS = N_KINDS
STARTED = _N_COUNTERS + 0  # ts of the session's first event
DECAYED_AT = _N_COUNTERS + 1  # ts the counters were last decayed to
LAST_PAGE = _N_COUNTERS + 2  # ts of the last page view (0: none yet)
DWELL_SUM = _N_COUNTERS + 3  # decayed sum of dwell seconds on product pages
DWELL_N = _N_COUNTERS + 4  # decayed number of dwell measurements
EVENTS = _N_COUNTERS + 5  # raw (undecayed) number of events
RATE = _N_COUNTERS + 6  # request counter with a 30 s half-life (bot gate)
RATE_AT = _N_COUNTERS + 7
LAST_WAS_PRODUCT = _N_COUNTERS + 8  # 1.0 when the last page was a product page
BEACON_DWELL = _N_COUNTERS + 9  # 1.0 when a beacon already gave the last page's dwell
PV_TOTAL = _N_COUNTERS + 10  # raw product views
REVISITS = _N_COUNTERS + 11  # raw product views of an already-seen product
DISTINCT_P = _N_COUNTERS + 12
DISTINCT_C = _N_COUNTERS + 13
LAST_NEW_PRODUCT = _N_COUNTERS + 14  # the last product page's hash (revert, echoes; below)
_SIZE = _N_COUNTERS + 15

# A product page shown again within this many seconds of its own view, after a cart or wishlist
# add and no other page in between, is the same visit to the page (POST-redirect-GET).
ECHO_S = 10.0  # seconds
# LAST_NEW_PRODUCT: +h the last product page added product h, -h it revisited h; + _ACTED
# (sign kept) when a cart/wishlist add followed; _ECHO + h after an echo of h.
_ECHO = float(2**33)
_ACTED = float(2**34)
_ACTIONS = frozenset({int(EventKind.CART_ADD), int(EventKind.WISHLIST_ADD)})
PRODUCT_RING = 32
CATEGORY_RING = 16
RATE_HALF_LIFE = 30.0
_RATE_PER_MIN = math.log(2) / RATE_HALF_LIFE * 60.0
_PAGE_KINDS = frozenset(int(k) for k in PAGE_KINDS)
_PRODUCT_VIEW = int(EventKind.PRODUCT_VIEW)
_DWELL = int(EventKind.DWELL)
_PAGE_VIEW = int(EventKind.PAGE_VIEW)


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Shared by every state of a store: the decay half-life and the dwell cap (seconds)."""

    half_life: float = 600.0
    dwell_cap: float = 300.0


DEFAULT_CONFIG = StateConfig()


def _hash(text: str) -> int:
    # Stable across processes (Python's hash() is salted): states move between workers.
    return crc32(text.encode("utf-8", "surrogatepass")) or 1


class SessionState:
    """One session's decayed behaviour; see the module docstring.

    Only the owner of the session mutates it (the event loop, with no ``await`` between reading
    and writing), so no locking.
    """

    __slots__ = ("v", "products", "categories", "config")

    def __init__(self, config: StateConfig = DEFAULT_CONFIG) -> None:
        self.v = array("d", bytes(8 * _SIZE))
        self.products = array("q", bytes(8 * PRODUCT_RING))
        self.categories = array("q", bytes(8 * CATEGORY_RING))
        self.config = config

    # -- time ------------------------------------------------------------------------------

    def decay_factor(self, now: float) -> float:
        """2^(−(now − decayed_at)/h): what the stored counters are worth at ``now``."""
        dt = now - self.v[DECAYED_AT]
        if dt <= 0.0:
            return 1.0
        return float(2.0 ** (-dt / self.config.half_life))

    def _decay_to(self, now: float) -> None:
        v = self.v
        f = self.decay_factor(now)
        if f != 1.0:
            for i in range(_N_COUNTERS):
                v[i] *= f
            v[DWELL_SUM] *= f
            v[DWELL_N] *= f
        if now > v[DECAYED_AT]:
            v[DECAYED_AT] = now

    def touch(self, now: float) -> float:
        """Count one request; returns the session's recent rate in requests per minute."""
        v = self.v
        dt = now - v[RATE_AT]
        r = v[RATE] * 2.0 ** (-dt / RATE_HALF_LIFE) if dt > 0.0 else v[RATE]
        r += 1.0
        v[RATE] = r
        if now > v[RATE_AT]:
            v[RATE_AT] = now
        return r * _RATE_PER_MIN

    # -- events ----------------------------------------------------------------------------

    def apply(self, ev: ShopperEvent) -> None:
        """Fold one event into the state (decaying everything to ``ev.ts`` first)."""
        v = self.v
        t = ev.ts
        self._decay_to(t)
        if v[STARTED] == 0.0 or t < v[STARTED]:
            v[STARTED] = t
        kind = int(ev.kind)
        cap = self.config.dwell_cap
        if kind == _PRODUCT_VIEW and ev.product and self._is_echo(ev, t):
            # The product page shown again a few seconds after its own view and an action on it
            # (a cart or wishlist add), with no other page in between: the GET that follows the
            # action's POST-redirect. The shopper never left the page: not a revisit, not
            # another view.
            v[LAST_NEW_PRODUCT] = _ECHO + abs(v[LAST_NEW_PRODUCT]) % _ECHO
            return
        if kind in _ACTIONS:
            last = v[LAST_NEW_PRODUCT]
            if last != 0.0 and abs(last) < _ECHO:  # an action on the product page just shown
                v[LAST_NEW_PRODUCT] = last + (_ACTED if last > 0.0 else -_ACTED)
        if kind == _DWELL:
            # A client beacon measured the dwell: it replaces the gap estimate for that page.
            if v[LAST_WAS_PRODUCT] == 1.0 and v[BEACON_DWELL] == 0.0:
                v[DWELL_SUM] += min(max(ev.value / 1000.0, 0.0), cap)
                v[DWELL_N] += 1.0
                v[BEACON_DWELL] = 1.0
            return
        if kind in _PAGE_KINDS:
            last = v[LAST_PAGE]
            if last > 0.0 and v[LAST_WAS_PRODUCT] == 1.0 and v[BEACON_DWELL] == 0.0:
                gap = t - last
                if gap > 0.0:
                    v[DWELL_SUM] += min(gap, cap)
                    v[DWELL_N] += 1.0
            v[LAST_PAGE] = t
            v[LAST_WAS_PRODUCT] = 1.0 if kind == _PRODUCT_VIEW else 0.0
            v[BEACON_DWELL] = 0.0
        if kind != _PAGE_VIEW:
            v[kind] += 1.0
        v[EVENTS] += 1.0
        if kind in _PAGE_KINDS:
            v[LAST_NEW_PRODUCT] = 0.0  # actions (cart add...) keep the last product page's
        if kind == _PRODUCT_VIEW and ev.product:
            h = _hash(ev.product)
            v[PV_TOTAL] += 1.0
            ring = self.products
            if h in ring:
                v[REVISITS] += 1.0
                v[LAST_NEW_PRODUCT] = -float(h)
            else:
                slot = int(v[DISTINCT_P]) % PRODUCT_RING
                ring[slot] = h
                v[DISTINCT_P] += 1.0
                v[LAST_NEW_PRODUCT] = float(h)
        if ev.category:
            h = _hash(ev.category)
            ring = self.categories
            if h not in ring:
                ring[int(v[DISTINCT_C]) % CATEGORY_RING] = h
                v[DISTINCT_C] += 1.0

    def revert(self, ev: ShopperEvent) -> None:
        """Undo ``apply(ev)`` for the same event: the proxy classifies a request before it
        knows the response status, and a product page that 404s must not count. Dwell and the
        category ring are left as they are (both are bounded, and a miss costs little)."""
        v = self.v
        kind = int(ev.kind)
        if kind == _DWELL:
            return
        if kind == _PRODUCT_VIEW and _ECHO <= v[LAST_NEW_PRODUCT] < _ACTED:
            v[LAST_NEW_PRODUCT] -= _ECHO  # an echo changed nothing else
            return
        f = self.decay_factor(ev.ts)  # the +1 made at ev.ts is worth f now
        if kind != _PAGE_VIEW:
            v[kind] = max(v[kind] - f, 0.0)
        v[EVENTS] = max(v[EVENTS] - 1.0, 0.0)
        if kind == _PRODUCT_VIEW and ev.product:
            h = _hash(ev.product)
            v[PV_TOTAL] = max(v[PV_TOTAL] - 1.0, 0.0)
            if v[LAST_NEW_PRODUCT] % _ACTED == float(h):
                slot = (int(v[DISTINCT_P]) - 1) % PRODUCT_RING
                if self.products[slot] == h:
                    self.products[slot] = 0
                v[DISTINCT_P] = max(v[DISTINCT_P] - 1.0, 0.0)
                v[LAST_NEW_PRODUCT] = 0.0
            else:
                v[REVISITS] = max(v[REVISITS] - 1.0, 0.0)
                v[LAST_NEW_PRODUCT] = 0.0

    def _is_echo(self, ev: ShopperEvent, t: float) -> bool:
        v = self.v
        last = v[LAST_NEW_PRODUCT]
        if abs(last) < _ACTED or v[LAST_WAS_PRODUCT] != 1.0 or not (
                0.0 <= t - v[LAST_PAGE] <= ECHO_S):
            return False
        return abs(last) % _ECHO == float(_hash(ev.product or ""))

    # -- reading ---------------------------------------------------------------------------

    @property
    def events_seen(self) -> int:
        return int(self.v[EVENTS])

    @property
    def started_at(self) -> float:
        return self.v[STARTED]

    def counter(self, kind: EventKind, now: float) -> float:
        """Decayed count of ``kind`` at ``now`` (the state is not modified)."""
        return self.v[int(kind)] * self.decay_factor(now)

    def nbytes(self) -> int:
        """Approximate memory held by this state, in bytes."""
        import sys

        return (sys.getsizeof(self) + sys.getsizeof(self.v) + sys.getsizeof(self.products)
                + sys.getsizeof(self.categories))

    # -- moving between processes ---------------------------------------------------------

    def to_bytes(self) -> bytes:
        return self.v.tobytes() + self.products.tobytes() + self.categories.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, config: StateConfig = DEFAULT_CONFIG) -> SessionState:
        """Inverse of ``to_bytes``; ``ValueError`` for data of the wrong size or with
        non-finite numbers (a corrupted or foreign blob)."""
        want = 8 * (_SIZE + PRODUCT_RING + CATEGORY_RING)
        if len(data) != want:
            raise ValueError(f"state blob has {len(data)} bytes, expected {want}")
        s = cls(config)
        a = 8 * _SIZE
        b = a + 8 * PRODUCT_RING
        s.v = array("d", data[:a])
        if not all(math.isfinite(x) for x in s.v):
            raise ValueError("state blob holds non-finite numbers")
        s.products = array("q", data[a:b])
        s.categories = array("q", data[b:])
        return s

    def merge(self, other: SessionState, now: float) -> None:
        """Combine ``other`` into this state: both are decayed to ``now``, counters add,
        raw counts add, distinct sets unite (within the ring bounds), the earliest start wins."""
        self._decay_to(now)
        f = other.decay_factor(now)
        v, o = self.v, other.v
        for i in range(_N_COUNTERS):
            v[i] += o[i] * f
        v[DWELL_SUM] += o[DWELL_SUM] * f
        v[DWELL_N] += o[DWELL_N] * f
        for i in (EVENTS, PV_TOTAL, REVISITS):
            v[i] += o[i]
        if o[STARTED] > 0.0 and (v[STARTED] == 0.0 or o[STARTED] < v[STARTED]):
            v[STARTED] = o[STARTED]
        v[LAST_PAGE] = max(v[LAST_PAGE], o[LAST_PAGE])
        for h in other.products:
            if h and h not in self.products:
                self.products[int(v[DISTINCT_P]) % PRODUCT_RING] = h
                v[DISTINCT_P] += 1.0
        for h in other.categories:
            if h and h not in self.categories:
                self.categories[int(v[DISTINCT_C]) % CATEGORY_RING] = h
                v[DISTINCT_C] += 1.0

    def copy(self) -> SessionState:
        s = _bare()  # no zeroed arrays built only to be replaced
        s.v = array("d", self.v)
        s.products = array("q", self.products)
        s.categories = array("q", self.categories)
        s.config = self.config
        return s


# -- synchronising with a shared store --------------------------------------------------------
#
# A shared store (Redis) holds the part of a state that several processes add to: the decayed
# counters, the raw counts and the distinct product/category sets. What only makes sense for one
# device's stream of requests (last page time for dwell gaps, the bot-rate meter, revert
# bookkeeping) stays local. A process sends "what I added since the last sync" as a delta and
# gets back the shared total; both are linear in the decay, so adding deltas commutes.

SYNC_DECAYED: tuple[int, ...] = tuple(range(_N_COUNTERS)) + (DWELL_SUM, DWELL_N)
SYNC_RAW: tuple[int, ...] = (EVENTS, PV_TOTAL, REVISITS)
SYNC_FIELDS: tuple[int, ...] = SYNC_DECAYED + SYNC_RAW
_LOCAL_ONLY: tuple[int, ...] = (LAST_PAGE, RATE, RATE_AT, LAST_WAS_PRODUCT, BEACON_DWELL,
                                LAST_NEW_PRODUCT)


class SyncDelta(NamedTuple):
    """What one state added on top of another, valued at ``at``."""

    values: list[float]  # SYNC_DECAYED (decayed to ``at``) then SYNC_RAW
    started: float
    products: list[int]
    categories: list[int]
    at: float

    def is_empty(self) -> bool:
        return not (self.products or self.categories or any(self.values))


def sync_delta(state: SessionState, base: SessionState | None, now: float) -> SyncDelta:
    """``state − base`` at ``now`` (``base=None``: the whole state)."""
    v = state.v
    fs = state.decay_factor(now)
    if base is None:
        values = [v[i] * fs for i in SYNC_DECAYED] + [v[i] for i in SYNC_RAW]
        return SyncDelta(values, v[STARTED], [p for p in state.products if p],
                         [c for c in state.categories if c], now)
    b = base.v
    fb = base.decay_factor(now)
    values = [v[i] * fs - b[i] * fb for i in SYNC_DECAYED] + [v[i] - b[i] for i in SYNC_RAW]
    bp, bc = set(base.products), set(base.categories)
    return SyncDelta(values, v[STARTED], [p for p in state.products if p and p not in bp],
                     [c for c in state.categories if c and c not in bc], now)


def add_delta(state: SessionState, delta: SyncDelta, now: float, sign: float = 1.0) -> None:
    """Add (``sign=-1``: take away) ``delta`` to ``state`` at ``now``; counts never go below 0.
    Taking away leaves the distinct sets alone (a product seen elsewhere too must stay)."""
    state._decay_to(now)
    v = state.v
    f = 2.0 ** (-(now - delta.at) / state.config.half_life) if now > delta.at else 1.0
    values = delta.values
    n = len(SYNC_DECAYED)
    for j, i in enumerate(SYNC_DECAYED):
        v[i] = max(v[i] + sign * values[j] * f, 0.0)
    for j, i in enumerate(SYNC_RAW):
        v[i] = max(v[i] + sign * values[n + j], 0.0)
    if sign < 0:
        return
    if delta.started > 0.0 and (v[STARTED] == 0.0 or delta.started < v[STARTED]):
        v[STARTED] = delta.started
    for h in delta.products:
        if h not in state.products:
            state.products[int(v[DISTINCT_P]) % PRODUCT_RING] = h
            v[DISTINCT_P] += 1.0
    for h in delta.categories:
        if h not in state.categories:
            state.categories[int(v[DISTINCT_C]) % CATEGORY_RING] = h
            v[DISTINCT_C] += 1.0


def shared_state(
    decayed_at: float,
    started: float,
    distinct_products: float,
    distinct_categories: float,
    values: list[float],
    products: list[int],
    categories: list[int],
    config: StateConfig = DEFAULT_CONFIG,
) -> SessionState:
    """A state from the shared part kept by a store (the local-only fields are zero)."""
    if len(values) != len(SYNC_FIELDS):
        raise ValueError(f"expected {len(SYNC_FIELDS)} values, got {len(values)}")
    # One check for all: the sum is not finite when a value is NaN or infinite.
    if not math.isfinite(sum(values)) or min(values) < 0.0:
        raise ValueError("shared state holds a negative or non-finite count")
    s = _bare()
    s.config = config
    s.v = v = array("d", values[0:_N_COUNTERS])
    v.frombytes(bytes(8 * (_SIZE - _N_COUNTERS)))
    n = _N_COUNTERS
    v[DWELL_SUM], v[DWELL_N], v[EVENTS], v[PV_TOTAL], v[REVISITS] = values[n:n + 5]
    v[DECAYED_AT] = decayed_at
    v[STARTED] = started
    v[DISTINCT_P] = distinct_products
    v[DISTINCT_C] = distinct_categories
    s.products = _ring(products, PRODUCT_RING)
    s.categories = _ring(categories, CATEGORY_RING)
    return s


def _bare() -> SessionState:
    return SessionState.__new__(SessionState)


def _ring(items: list[int], size: int) -> array[int]:
    ring = array("q", items[:size])
    if len(ring) < size:
        ring.frombytes(bytes(8 * (size - len(ring))))
    return ring


def adopt(state: SessionState, shared: SessionState, extra: SyncDelta | None, now: float) -> None:
    """Make ``state`` the shared total plus ``extra`` (what this process added while the total
    was on its way), keeping ``state``'s local-only fields. In place: callers hold ``state``."""
    if extra is not None:
        add_delta(shared, extra, now)
    for i in _LOCAL_ONLY:
        shared.v[i] = state.v[i]
    state.v = shared.v
    state.products = shared.products
    state.categories = shared.categories
