"""A bounded, live sample of the requests no route rule decides, and the rules they suggest.

The request path pays for one counter and, for sampled requests, one append to a bounded deque
(``offer``); nothing is parsed there. Everything else runs when the report is asked for
(``report``): queued requests are checked against the rules (a ``page_view`` rule or an
``ignore`` rule with conditions decides a request too), folded into a ``signals.suggest.Miner``
bounded in distinct paths, and mined. Query values are dropped before anything is kept, except
the values of sort keys (``sort=price-asc`` is what makes a price-sort rule); the examples shown
carry query keys only.

Optionally (``sniff``), a few HTML responses of each sampled page are kept, their first
``pagetype.MAX_BYTES`` bytes only, at most ``SNIFF_PER_PATH`` per path and ``SNIFF_QUEUE`` waiting;
the request path only slices the first body chunk of those few. Their markup (schema.org types,
``og:type``, an add-to-cart form) is read at report time and feeds the suggestions as evidence.

Pure: no I/O, no clock (times are arguments).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from signals.pagetype import MAX_BYTES, page_kind
from signals.suggest import SORT_KEYS, Miner, render_toml, suggestions_json

SAMPLE_ALL = 1000  # the first requests are all sampled; then one in SAMPLE_EVERY
SAMPLE_EVERY = 8
QUEUE = 4096
MAX_PATHS = 5000  # distinct (method, path) pairs kept; later new ones are only counted
SNIFF_PER_PATH = 3
SNIFF_QUEUE = 64


class _Rules(Protocol):
    def which(self, method: str, path: str, query_string: bytes = b"") -> str | None: ...


def scrub_query(query: str) -> str:
    """Query keys kept, values dropped (``a=&b=``), except sort keys' values."""
    if not query:
        return ""
    out = []
    for n, pair in enumerate(query.split("&")):
        if n >= 32:
            break
        key, _, value = pair.partition("=")
        if not key:
            continue
        out.append(f"{key}={value[:40]}" if key.lower() in SORT_KEYS else f"{key}=")
    return "&".join(out)


class UnmatchedRoutes:
    """See the module docstring. ``offer`` is the only method the request path calls."""

    __slots__ = ("seen", "sampled", "dropped", "_queue", "_miner", "max_paths", "sniff",
                 "_sniffs", "_bodies", "sniffed")

    def __init__(self, *, queue: int = QUEUE, max_paths: int = MAX_PATHS,
                 sniff: bool = False) -> None:
        self.sniff = sniff
        self._sniffs: dict[str, int] = {}  # path -> responses asked for (bounded by max_paths)
        self._bodies: deque[tuple[str, str, bytes]] = deque(maxlen=SNIFF_QUEUE)
        self.sniffed = 0
        self.seen = 0
        self.sampled = 0
        self.dropped = 0  # sampled requests of new paths past ``max_paths``
        self.max_paths = max_paths
        self._queue: deque[tuple[str, str, bytes, float]] = deque(maxlen=queue)
        self._miner = Miner()

    def offer(self, method: str, path: str, query_string: bytes, now: float) -> bool:
        """A request no rule decided (an unmatched page, or a non-GET without a rule). True when
        the caller should hand the first bytes of its HTML answer to ``body``."""
        self.seen += 1
        if self.seen > SAMPLE_ALL and self.seen % SAMPLE_EVERY:
            return False
        self._queue.append((method, path, query_string, now))
        if not self.sniff or method != "GET":
            return False
        sniffs = self._sniffs
        n = sniffs.get(path, 0)
        if n >= SNIFF_PER_PATH or (n == 0 and len(sniffs) >= self.max_paths):
            return False
        sniffs[path] = n + 1
        return True

    def body(self, method: str, path: str, first: bytes) -> None:
        """The first body bytes of an HTML answer ``offer`` asked for (bounded queue)."""
        self._bodies.append((method, path, first[:MAX_BYTES]))

    def drain(self, rules: _Rules) -> None:
        """Fold the queued requests into the sample (off the request path)."""
        queue = self._queue
        miner = self._miner
        while queue:
            method, path, qs, now = queue.popleft()
            if rules.which(method, path, qs) is not None:
                continue
            self.sampled += 1
            if len(miner.paths) >= self.max_paths and (method, path.rstrip("/") or "/") \
                    not in miner.paths:
                self.dropped += 1
                continue
            miner.add(method, path, scrub_query(qs.decode("latin-1")), 200, None, now)
        bodies = self._bodies
        while bodies:
            method, path, first = bodies.popleft()
            self.sniffed += 1
            kind = page_kind(first)
            if kind is not None:
                miner.markup(method, path, kind)

    def report(self, rules: _Rules, limit: int = 100) -> dict[str, Any]:
        """Templates of the sampled requests with counts, examples and a suggested kind, and a
        ready rules file built from them."""
        self.drain(rules)
        suggestions = self._miner.suggest()
        suggestions.sort(key=lambda s: -s.count)
        header = [f"suggested from {self.sampled} sampled unmatched requests "
                  f"({self.seen} seen) by the proxy's live sample"]
        proposed = [s for s in suggestions if s.proposed and s.kind != "page"]
        return {
            "seen": self.seen,
            "sampled": self.sampled,
            "dropped": self.dropped,
            "distinct_paths": len(self._miner.paths),
            "sniffed": self.sniffed,
            "templates": suggestions_json(suggestions[:limit]),
            "rules_toml": render_toml(proposed, header=header, preset=None) if proposed else "",
        }
