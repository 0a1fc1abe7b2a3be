"""The live class mix: time buckets over a window, shares beside training, the chart series."""

from __future__ import annotations

import pytest

from explain.live import LiveMix


def test_live_mix_counts_per_class_within_the_window() -> None:
    mix = LiveMix(bucket_s=60, buckets=5)
    for t in (0.0, 10.0, 70.0):
        mix.add("a", t)
    mix.add("b", 130.0)
    assert mix.counts(130.0) == {"a": 3, "b": 1}
    assert mix.counts(130.0, window_s=60) == {"b": 1}


def test_live_mix_forgets_buckets_older_than_the_window() -> None:
    mix = LiveMix(bucket_s=60, buckets=3)
    mix.add("old", 0.0)
    mix.add("new", 200.0)
    assert mix.counts(200.0) == {"new": 1}
    for t in range(0, 6000, 30):
        mix.add("x", float(t))
    assert len(mix._ring) == 3  # bounded memory


def test_live_mix_shares_sit_beside_training_percentages() -> None:
    mix = LiveMix(bucket_s=60, buckets=10)
    for _ in range(3):
        mix.add("a", 5.0)
    mix.add("b", 5.0)
    mix.add("undetermined", 5.0)
    out = mix.shares(["a", "b", "c"], [50.0, 30.0, 20.0], 5.0)
    rows = {r["slug"]: r for r in out["classes"]}
    assert rows["a"]["live_percentage"] == 75.0 and rows["a"]["training_percentage"] == 50.0
    assert rows["c"]["live_decisions"] == 0 and rows["c"]["live_percentage"] == 0.0
    assert out["decisions"] == 5 and out["undetermined"] == 1
    assert out["undetermined_percentage"] == pytest.approx(20.0)


def test_live_mix_series_has_one_point_per_bucket_oldest_first() -> None:
    mix = LiveMix(bucket_s=60, buckets=4)
    mix.add("a", 65.0)
    mix.add("b", 190.0)
    series = mix.series(200.0)
    assert [p["t"] for p in series] == [0.0, 60.0, 120.0, 180.0]
    assert [p["counts"] for p in series] == [{}, {"a": 1}, {}, {"b": 1}]


def test_live_mix_counts_a_late_decision_in_the_newest_bucket() -> None:
    mix = LiveMix(bucket_s=60, buckets=4)
    mix.add("a", 130.0)
    mix.add("a", 10.0)  # the clock stepped back
    assert mix.counts(130.0) == {"a": 2}


def test_live_mix_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError):
        LiveMix(bucket_s=0)
