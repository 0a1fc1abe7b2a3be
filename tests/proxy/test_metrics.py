"""Tests for proxy/metrics.py: the histogram and the Prometheus text format."""

from __future__ import annotations

import re

import pytest

from proxy.metrics import LATENCY_BUCKETS, Histogram, Metrics


def _text(metrics: Metrics) -> str:
    return metrics.render().decode()


def test_histogram_counts_into_the_bucket_at_or_above_the_value() -> None:
    h = Histogram((1.0, 2.0, 5.0))
    for value in (0.5, 1.0, 1.5, 9.0):
        h.observe(value)
    assert h.counts == [2, 1, 0, 1] and h.count == 4 and h.total == pytest.approx(12.0)
    assert h.quantile(0.5) == 1.0 and h.quantile(0.75) == 2.0
    assert h.quantile(1.0) == float("inf")
    assert Histogram().quantile(0.99) == 0.0


def test_metrics_render_every_family_with_help_and_type() -> None:
    text = _text(Metrics())
    for name, kind in (("intentgate_requests_total", "counter"),
                       ("intentgate_fail_open_total", "counter"),
                       ("intentgate_reverted_events_total", "counter"),
                       ("intentgate_classify_seconds", "histogram"),
                       ("intentgate_store_wait_seconds", "histogram")):
        assert f"# TYPE {name} {kind}\n" in text
        assert f"# HELP {name} " in text
    # Unlabelled counters show 0 before anything happened; labelled ones show no series.
    assert "\nintentgate_identifies_total 0\n" in text
    assert "intentgate_fail_open_total{" not in text
    assert text.endswith("\n")


def test_metrics_counters_carry_their_label() -> None:
    m = Metrics()
    m.fail_open["budget"] += 2
    m.fail_open["error"] += 1
    m.requests_by_class["comparison-shopper"] += 5
    m.reverted_events = 3
    text = _text(m)
    assert 'intentgate_fail_open_total{reason="budget"} 2\n' in text
    assert 'intentgate_fail_open_total{reason="error"} 1\n' in text
    assert 'intentgate_requests_total{class="comparison-shopper"} 5\n' in text
    assert "\nintentgate_reverted_events_total 3\n" in text


def test_metrics_histogram_buckets_are_cumulative() -> None:
    m = Metrics()
    for value in (3e-6, 3e-6, 150e-6, 1.0):
        m.classify_latency.observe(value)
    text = _text(m)
    buckets = re.findall(r'intentgate_classify_seconds_bucket\{le="([^"]+)"\} (\d+)', text)
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    counts = [int(n) for _, n in buckets]
    assert counts == sorted(counts)
    assert dict(buckets)["5e-06"] == "2" and dict(buckets)["0.0002"] == "3"
    assert buckets[-1] == ("+Inf", "4")
    assert "intentgate_classify_seconds_count 4\n" in text
    assert re.search(r"intentgate_classify_seconds_sum 1\.0001\d+\n", text)


def test_metrics_label_values_are_escaped() -> None:
    m = Metrics()
    m.bots['we"ird\\\nbot'] += 1
    assert 'intentgate_bots_total{reason="we\\"ird\\\\\\nbot"} 1\n' in _text(m)


def test_metrics_gauges_are_read_at_scrape_time_and_never_break_it() -> None:
    m = Metrics()
    size = [3.0]
    m.gauge("intentgate_store_entries", "States held.", lambda: size[0])
    m.gauge("intentgate_store_ops", "Ops.", lambda: {"op=hits": 7, "op=misses": 1})

    def broken() -> float:
        raise RuntimeError("gauge exploded")

    m.gauge("intentgate_broken", "Broken.", broken)
    size[0] = 4.0
    text = _text(m)
    assert "\nintentgate_store_entries 4.0\n" in text
    assert 'intentgate_store_ops{op="hits"} 7.0\n' in text
    assert 'intentgate_store_ops{op="misses"} 1.0\n' in text
    assert "# TYPE intentgate_broken gauge" in text  # declared, no sample: the scrape lives


def test_metrics_build_info_labels() -> None:
    m = Metrics()
    m.info = lambda: {"version": "1.2.3", "model": "2026-11-22.abc123"}
    assert 'intentgate_build_info{model="2026-11-22.abc123",version="1.2.3"} 1\n' in _text(m)


def test_metrics_merged_snapshots_sum_counters_and_label_gauges_by_worker() -> None:
    a, b = Metrics(), Metrics()
    for m, n in ((a, 2), (b, 3)):
        m.fail_open["error"] += n
        m.classify_latency.observe(1e-3)
        m.gauge("intentgate_store_entries", "States held.", lambda n=n: float(n))
    text = a.render_merged([a.snapshot(), b.snapshot()], per_worker=["w1", "w2"]).decode()
    assert 'intentgate_fail_open_total{reason="error"} 5\n' in text
    assert "intentgate_classify_seconds_count 2\n" in text
    assert 'intentgate_store_entries{worker="w1"} 2.0\n' in text
    assert 'intentgate_store_entries{worker="w2"} 3.0\n' in text
    # A snapshot past per_worker is a worker that exited: counted, no gauges.
    gone = Metrics()
    gone.fail_open["error"] += 10
    text = a.render_merged([a.snapshot(), gone.snapshot()], per_worker=["w1"]).decode()
    assert 'intentgate_fail_open_total{reason="error"} 12\n' in text
    assert text.count("intentgate_store_entries{") == 1
