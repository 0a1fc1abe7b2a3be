"""Tests for classifiers/report.py: a self-contained HTML page describing a model."""

from __future__ import annotations

import re
from html import escape

import numpy as np
import pytest

from classifiers.artifact import load_model, seal
from classifiers.errors import FitWarning
from classifiers.report import render_report
from tests.classifiers.test_fit import CREATED, blobs, fit


def test_report_shows_silhouette_sizes_cards_heatmap_and_notes() -> None:
    X = blobs(3)
    X[:, 2] = 0.0  # searches missing from the data
    model = load_model(fit(X).to_artifact(CREATED, "synthetic blobs", notes=["made in a test"]))
    page = render_report(model)
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 2  # silhouette per k, class sizes
    for k in range(2, 9):
        assert f"k={k}" in page
    for card in model.artifact.classes:
        assert card.display_name in page and f'id="{card.slug}"' in page
        for rule in card.rules:
            assert escape(rule.text) in page
    assert page.count('<td style="background:#') == 16 * model.k  # the heatmap
    assert "Signals missing from the data: <code>searches</code>" in page
    assert "made in a test" in page and "synthetic blobs" in page


def test_report_is_self_contained() -> None:
    page = render_report(load_model(fit(blobs(2)).to_artifact(CREATED, "x")))
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)\s*=", page)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)


def test_report_escapes_merchandiser_text() -> None:
    fitter = fit(blobs(2))
    slug = fitter.class_names()[0].slug
    model = load_model(fitter.to_artifact(
        CREATED, "<shop>", labels={slug: {"display_name": "<b>VIP</b> & co"}}))
    page = render_report(model)
    assert "&lt;b&gt;VIP&lt;/b&gt; &amp; co" in page and "<b>VIP</b>" not in page
    assert "&lt;shop&gt;" in page


def test_report_says_loudly_when_the_model_is_a_fallback() -> None:
    X = np.zeros((10, 16))
    X[:, 0] = np.arange(10)
    with pytest.warns(FitWarning):
        model = load_model(fit(X).to_artifact(CREATED, "tiny"))
    page = render_report(model)
    assert "FALLBACK MODEL" in page
    assert "Warning: FALLBACK" in page
    assert "No silhouette" in page


def test_report_says_how_often_a_class_holds_when_measured() -> None:
    from classifiers.persistence import with_persistence

    model = load_model(fit(blobs(3)).to_artifact(CREATED, "synthetic blobs"))
    assert "Kept at the next request" not in render_report(model)
    values: list[float | None] = [0.7] + [None] * (model.k - 1)
    measured = with_persistence(model.artifact, values)
    page = render_report(load_model(seal(measured.model_dump(mode="json"))))
    assert page.count("Kept at the next request in 70% of its training states.") == 1
