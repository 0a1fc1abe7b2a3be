"""Tests for explain/replay_check.py: the replay counts, here the confidence-kept figures."""

from __future__ import annotations

from classifiers.artifact import load_model, seal
from explain.replay_check import check
from tests.factories import artifact_content, event


def _model(persistence: list[float | None]) -> bytes:
    # (product_views, comparisons, cart_adds), log1p: class 0 is three product views, class 1
    # the same with a cart add.
    content = artifact_content([[1.4, 0.0, 0.0], [1.4, 0.0, 1.0]], radius=50.0)
    for card, p in zip(content["classes"], persistence, strict=True):
        if p is not None:
            card["persistence"] = p
    return seal(content)


def _sessions() -> dict[str, list]:
    # Three product views (class 0, sure of it), a cart add (class 1), two more views.
    kinds = ["product_view"] * 3 + ["cart_add"] + ["product_view"] * 2
    return {f"s{i}": [event(k, 1000.0 * i + t, product="p1") for t, k in enumerate(kinds)]
            for i in range(4)}


def test_kept_counts_the_confidence_the_proxy_gives_scaled_by_persistence() -> None:
    plain = check("x", load_model(_model([None, None])), _sessions(), switch_margin=0.0)
    kept, total = plain.kept
    assert (kept, total) == (8, 12)  # per session: class 0 lost once, class 1 kept twice
    # Class 0 kept half the time in training: the scorer shrinks its confidence to a fifth,
    # below 0.5, so only class 1's decisions count as sure, and all of those were kept.
    low = check("x", load_model(_model([0.5, None])), _sessions(), switch_margin=0.0)
    assert low.kept == (8, 8)
    assert any("kept at the next decision: 8/8" in line for line in low.lines())
