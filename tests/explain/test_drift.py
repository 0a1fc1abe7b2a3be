"""Drift: PSI of the class mix and per-signal mean shift, in standard units."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classifiers.artifact import Model, load_model
from explain.drift import DriftMonitor, psi
from proxy.models import bundled_model_bytes


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(bundled_model_bytes())


def _training_counts(model: Model, n: int) -> dict[str, int]:
    return {c.slug: round(n * c.percentage / 100) for c in model.artifact.classes}


def test_psi_is_zero_for_equal_distributions() -> None:
    assert psi([10, 30, 60], [0.1, 0.3, 0.6]) == pytest.approx(0.0, abs=1e-12)


def test_psi_matches_a_hand_computed_value() -> None:
    p, q = [0.5, 0.5], [0.25, 0.75]
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.5 - 0.75) * math.log(0.5 / 0.75)
    assert psi(p, q) == pytest.approx(expected, rel=1e-12)


def test_psi_floors_empty_classes_instead_of_dividing_by_zero() -> None:
    value = psi([0, 100], [50, 50])
    assert math.isfinite(value) and value > 0.2


def test_psi_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        psi([1, 2], [1, 2, 3])


def test_traffic_like_training_is_not_flagged(model: Model) -> None:
    monitor = DriftMonitor(model)
    for i in range(100):
        monitor.observe(np.asarray(model.mean), 1000.0 + i)
    report = monitor.report(_training_counts(model, 1000), 1100.0)
    assert report["psi"] < 0.01 and not report["drift"] and report["enough_traffic"]
    assert all(abs(s["shift_sd"]) < 1e-9 for s in report["signals"])


def test_a_shifted_stream_is_flagged_on_mix_and_on_the_shifted_signal(model: Model) -> None:
    monitor = DriftMonitor(model)
    f = model.feature_names.index("comparisons")
    x = np.array(model.mean)
    x[f] += 2.0 / model.inv_scale[f]  # two training SDs more comparisons
    for i in range(100):
        monitor.observe(x, 1000.0 + i)
    report = monitor.report({"comparison-shopper": 80, "casual-browser": 20}, 1100.0)
    assert report["psi_flagged"] and report["psi"] > 0.2 and report["drift"]
    top = report["signals"][0]
    assert top["signal"] == "comparisons" and top["shift_sd"] == pytest.approx(2.0, abs=1e-6)
    assert top["flagged"] and not any(s["flagged"] for s in report["signals"][1:])


def test_too_little_traffic_is_never_flagged(model: Model) -> None:
    monitor = DriftMonitor(model, min_samples=30)
    monitor.observe(np.array(model.mean) + 10.0, 1.0)
    report = monitor.report({"comparison-shopper": 5}, 2.0)
    assert not report["drift"] and not report["enough_traffic"]


def test_old_vectors_age_out_of_the_window(model: Model) -> None:
    monitor = DriftMonitor(model, bucket_s=60, buckets=5, min_samples=1)
    monitor.observe(np.array(model.mean) + 5.0, 0.0)
    monitor.observe(np.array(model.mean), 1000.0)
    report = monitor.report({}, 1000.0)
    assert report["vectors"] == 1 and not any(s["flagged"] for s in report["signals"])
