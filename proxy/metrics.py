"""Process-local counters and histograms, rendered in Prometheus' text format.

Plain ints and lists bumped from the event loop (single-threaded), no locks, no labels parsed per
request: each counter family is a dict keyed by a label value chosen from a closed set.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable

# Classification step latency buckets, seconds (the budget is 2 ms by default).
LATENCY_BUCKETS = (
    5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3,
)


class Histogram:
    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding quantile ``q`` (0 when empty)."""
        if not self.count:
            return 0.0
        target = q * self.count
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= target:
                return self.bounds[i] if i < len(self.bounds) else float("inf")
        return float("inf")


class Metrics:
    """Every number the proxy exposes at ``/_intentgate/metrics``."""

    def __init__(self) -> None:
        self.requests_by_class: dict[str, int] = defaultdict(int)
        self.fail_open: dict[str, int] = defaultdict(int)
        self.bots: dict[str, int] = defaultdict(int)
        self.events: dict[str, int] = defaultdict(int)
        self.beacons: dict[str, int] = defaultdict(int)
        self.upstream_errors: dict[str, int] = defaultdict(int)
        self.identifies = 0
        self.reverted_events = 0
        self.store_fetches = 0  # requests that waited for one store round trip
        self.classify_latency = Histogram()
        self.store_wait = Histogram()
        # Gauges computed on scrape: name -> (help, callable returning {label: value} or a value).
        self._gauges: list[tuple[str, str, Callable[[], dict[str, float] | float]]] = []

    def gauge(
        self, name: str, help_text: str, fn: Callable[[], dict[str, float] | float]
    ) -> None:
        self._gauges.append((name, help_text, fn))

    def render(self) -> bytes:
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        def labelled(name: str, label: str, values: Iterable[tuple[str, float]]) -> None:
            for key, value in sorted(values):
                out.append(f'{name}{{{label}="{_escape(key)}"}} {value}')

        family("intentgate_requests_total", "counter", "Classified requests by class.")
        labelled("intentgate_requests_total", "class", self.requests_by_class.items())
        family("intentgate_fail_open_total", "counter", "Requests forwarded unclassified.")
        labelled("intentgate_fail_open_total", "reason", self.fail_open.items())
        family("intentgate_bots_total", "counter", "Requests recognised as bots.")
        labelled("intentgate_bots_total", "reason", self.bots.items())
        family("intentgate_events_total", "counter", "Shopper events by kind.")
        labelled("intentgate_events_total", "kind", self.events.items())
        family("intentgate_beacons_total", "counter", "Beacon posts by outcome.")
        labelled("intentgate_beacons_total", "outcome", self.beacons.items())
        family("intentgate_upstream_errors_total", "counter", "Upstream failures by kind.")
        labelled("intentgate_upstream_errors_total", "kind", self.upstream_errors.items())
        family("intentgate_identifies_total", "counter", "Identify headers accepted.")
        out.append(f"intentgate_identifies_total {self.identifies}")
        family("intentgate_reverted_events_total", "counter", "Events undone (4xx/5xx).")
        out.append(f"intentgate_reverted_events_total {self.reverted_events}")
        family("intentgate_store_fetches_total", "counter",
               "Requests that waited for one profile-store round trip (state not local yet).")
        out.append(f"intentgate_store_fetches_total {self.store_fetches}")

        for h, name, help_text in (
            (self.classify_latency, "intentgate_classify_seconds",
             "Classification step latency (in process, without a store round trip)."),
            (self.store_wait, "intentgate_store_wait_seconds",
             "Time a request waited for its one profile-store round trip."),
        ):
            family(name, "histogram", help_text)
            cumulative = 0
            for bound, n in zip(h.bounds, h.counts, strict=False):
                cumulative += n
                out.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
            out.append(f'{name}_bucket{{le="+Inf"}} {h.count}')
            out.append(f"{name}_sum {h.total:.9f}")
            out.append(f"{name}_count {h.count}")

        for gname, help_text, fn in self._gauges:
            family(gname, "gauge", help_text)
            value = fn()
            if isinstance(value, dict):
                for key, v in sorted(value.items()):
                    label, _, lv = key.partition("=")
                    out.append(f'{gname}{{{label}="{_escape(lv)}"}} {v}')
            else:
                out.append(f"{gname} {value}")
        out.append("")
        return "\n".join(out).encode()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
