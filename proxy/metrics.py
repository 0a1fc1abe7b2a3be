"""Process-local counters and histograms, rendered in Prometheus' text format.

Plain ints and lists bumped from the event loop (single-threaded), no locks, no labels parsed per
request: each counter family is a dict keyed by a label value chosen from a closed set.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from typing import Any

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
        # Several workers: the instance's aggregation (proxy.instance.MetricsShare), else None.
        self.share: Any = None
        # Labels of intentgate_build_info (version, model), read at each scrape.
        self.info: Callable[[], dict[str, str]] | None = None

    def gauge(
        self, name: str, help_text: str, fn: Callable[[], dict[str, float] | float]
    ) -> None:
        self._gauges.append((name, help_text, fn))

    # -- counters, histograms, gauges as plain data (one worker's snapshot) -------------------

    _COUNTERS = (
        ("intentgate_requests_total", "Classified requests by class.", "class",
         "requests_by_class"),
        ("intentgate_fail_open_total", "Requests forwarded unclassified.", "reason", "fail_open"),
        ("intentgate_bots_total", "Requests recognised as bots.", "reason", "bots"),
        ("intentgate_events_total", "Shopper events by kind.", "kind", "events"),
        ("intentgate_beacons_total", "Beacon posts by outcome.", "outcome", "beacons"),
        ("intentgate_upstream_errors_total", "Upstream failures by kind.", "kind",
         "upstream_errors"),
        ("intentgate_identifies_total", "Identify headers accepted.", "", "identifies"),
        ("intentgate_reverted_events_total", "Events undone (4xx/5xx).", "", "reverted_events"),
        ("intentgate_store_fetches_total",
         "Requests that waited for one profile-store round trip (state not local yet).", "",
         "store_fetches"),
    )
    _HISTOGRAMS = (
        ("intentgate_classify_seconds",
         "Classification step latency (in process, without a store round trip).",
         "classify_latency"),
        ("intentgate_store_wait_seconds",
         "Time a request waited for its one profile-store round trip.", "store_wait"),
    )

    def snapshot(self) -> dict[str, Any]:
        """This process's numbers as JSON-ready data (what ``render_merged`` sums)."""
        counters: dict[str, dict[str, float]] = {}
        for name, _, label, attr in self._COUNTERS:
            value = getattr(self, attr)
            counters[name] = dict(value) if label else {"": value}
        hists = {}
        for name, _, attr in self._HISTOGRAMS:
            h: Histogram = getattr(self, attr)
            hists[name] = [list(h.bounds), list(h.counts), h.total, h.count]
        gauges: dict[str, dict[str, float]] = {}
        for gname, _, fn in self._gauges:
            try:
                value = fn()
            except Exception:  # a gauge must never break a scrape
                continue
            gauges[gname] = ({k: float(v) for k, v in value.items()}
                             if isinstance(value, dict) else {"": float(value)})
        return {"c": counters, "h": hists, "g": gauges}

    def render(self) -> bytes:
        """The Prometheus text: this process's numbers, or, when ``share`` is set (several
        workers), every worker's numbers of the instance merged (see ``proxy.instance``)."""
        if self.share is not None:
            return self.share.render()  # type: ignore[no-any-return]
        return self.render_merged([self.snapshot()], per_worker=None,
                                  info=self.info() if self.info is not None else None)

    def render_merged(
        self, snapshots: list[dict[str, Any]], per_worker: list[str] | None,
        info: dict[str, str] | None = None,
    ) -> bytes:
        """Counters summed, histograms merged bucket by bucket; gauges per worker (labelled
        ``worker``) when ``per_worker`` names each live snapshot's worker, else as they are.
        Snapshots past ``len(per_worker)`` are of workers that exited: counted, no gauges."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        for name, help_text, label, _ in self._COUNTERS:
            family(name, "counter", help_text)
            total: dict[str, float] = {}
            for snap in snapshots:
                for k, v in snap["c"].get(name, {}).items():
                    total[k] = total.get(k, 0) + v
            if not label:
                out.append(f"{name} {_num(total.get('', 0))}")
                continue
            for key, value in sorted(total.items()):
                out.append(f'{name}{{{label}="{_escape(key)}"}} {_num(value)}')

        for name, help_text, attr in self._HISTOGRAMS:
            family(name, "histogram", help_text)
            own: Histogram = getattr(self, attr)
            counts = [0] * (len(own.bounds) + 1)
            hsum, hcount = 0.0, 0
            for snap in snapshots:
                got = snap["h"].get(name)
                if got is None or tuple(got[0]) != own.bounds:
                    continue
                for i, n in enumerate(got[1]):
                    counts[i] += n
                hsum += got[2]
                hcount += got[3]
            cumulative = 0
            for bound, n in zip(own.bounds, counts, strict=False):
                cumulative += n
                out.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
            out.append(f'{name}_bucket{{le="+Inf"}} {hcount}')
            out.append(f"{name}_sum {hsum:.9f}")
            out.append(f"{name}_count {hcount}")

        if info is not None:
            family("intentgate_build_info", "gauge",
                   "Version of intentgate and of the model this instance serves (always 1).")
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(info.items()))
            out.append(f"intentgate_build_info{{{labels}}} 1")

        live = snapshots if per_worker is None else snapshots[: len(per_worker)]
        for gname, help_text, _ in self._gauges:
            family(gname, "gauge", help_text)
            for i, snap in enumerate(live):
                extra = "" if per_worker is None else f'worker="{_escape(per_worker[i])}"'
                for key, v in sorted(snap["g"].get(gname, {}).items()):
                    label, _, lv = key.partition("=")
                    parts = [p for p in (f'{label}="{_escape(lv)}"' if label else "", extra) if p]
                    labels = "{" + ",".join(parts) + "}" if parts else ""
                    out.append(f"{gname}{labels} {v}")
        out.append("")
        return "\n".join(out).encode()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
