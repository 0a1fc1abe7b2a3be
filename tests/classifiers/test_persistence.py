"""Tests for classifiers/persistence.py: how often a class holds at the next state."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.artifact import load_model, seal
from classifiers.kernels import Scorer, calibrated
from classifiers.persistence import measured, persistence
from tests.factories import artifact_content


def _model() -> bytes:
    # Two classes on the first feature (log1p space, scale 1): near 0 and near 2.
    return seal(artifact_content([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], radius=10.0))


def _rows(first_feature: list[float]) -> np.ndarray:
    X = np.zeros((len(first_feature), 3))
    X[:, 0] = first_feature
    return X


def test_persistence_counts_the_next_state_of_the_same_session() -> None:
    model = load_model(_model())
    # Session 0: class 0, 0, 0, then 1. Session 1: class 1, 1. Session 2: one state.
    X = _rows([0.1, 0.0, 0.2, 1.9, 2.0, 2.1, 0.0])
    session = np.array([0, 0, 0, 0, 1, 1, 2])
    # Class 0 is given at three states with a next one and kept at two (rounded to 4 digits);
    # class 1 at one such state, session 1's first, and kept.
    assert persistence(model, X, session, min_events=1) == [0.6667, 1.0]
    # From the third request on, as the proxy classifies: class 0 once (then lost).
    assert persistence(model, X, session, min_events=3) == [0.0, None]


def test_measured_stores_persistence_on_each_card_and_keeps_old_hashes() -> None:
    data = _model()
    # Unmeasured, the field is left out of the file: an artifact sealed before keeps its bytes.
    assert b"persistence" not in data
    X = _rows([0.0, 0.1, 2.0, 2.0])
    out = load_model(measured(data, X, np.array([0, 0, 0, 0]), min_events=1))
    assert [c.persistence for c in out.artifact.classes] == [0.5, 1.0]
    assert out.version != load_model(data).version


def test_calibrated_confidence_shrinks_only_classes_that_do_not_hold() -> None:
    assert calibrated(0.8, None) == 0.8
    assert calibrated(0.8, 0.95) == 0.8
    # Lost 30 % of the time, three times the 10 % the meaning allows: a third of the confidence.
    assert calibrated(0.9, 0.7) == pytest.approx(0.3)
    assert calibrated(1.0, 0.0) == pytest.approx(0.1)


def test_the_scorer_gives_each_class_its_calibrated_confidence() -> None:
    # Class 0 (three product views) held half the time in training: every confidence the
    # scorer gives it, one vector or a batch, is a fifth of the plain ratio; class 1 unchanged.
    from tests.explain.test_replay_check import _model

    x = np.array([[1.3, 0.0, 0.0]])  # transformed: a little short of class 0's centroid
    plain, low = (Scorer(load_model(_model(p))) for p in ([None, None], [0.5, None]))
    cls, _, conf_plain, _ = plain.label(3, np.ascontiguousarray(x[0]))
    cls_low, _, conf_low, _ = low.label(3, np.ascontiguousarray(x[0]))
    assert cls == cls_low == 0 and conf_plain > 0.0
    assert conf_low == pytest.approx(conf_plain * 0.2)
    labels, conf = low.label_batch(x)
    assert labels[0] == 0 and conf[0] == pytest.approx(conf_low)
    assert list(low.confidence_scale) == pytest.approx([0.2, 1.0])
