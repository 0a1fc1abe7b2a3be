"""The shadow model: agreement and the live x candidate confusion matrix."""

from __future__ import annotations

import orjson
import pytest

from classifiers.artifact import Model, load_model, seal
from explain.shadow import Shadow
from proxy.models import bundled_model_bytes
from tests.factories import event, make_session


@pytest.fixture(scope="module")
def live() -> Model:
    return load_model(bundled_model_bytes())


def _renamed_slugs() -> Model:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["slug"] = "new-" + card["slug"][:50]
    return load_model(seal(content))


def _comparer(t0: float = 1000.0):  # type: ignore[no-untyped-def]
    return make_session(*(event("compare", t0 + 20 * i, value=3) for i in range(4)))


def _deal_hunter(t0: float = 1000.0):  # type: ignore[no-untyped-def]
    return make_session(*(event("deal_view", t0 + 20 * i) for i in range(5)))


def test_a_candidate_identical_to_live_agrees_on_every_decision(live: Model) -> None:
    shadow = Shadow(live)
    for state in (_comparer(), _deal_hunter(), _comparer(2000.0)):
        now = state.started_at + 100
        shadow.observe(state, now, shadow.classify(state, now))
    report = shadow.report(live.version)
    assert report["agreement_rate"] == 1.0 and report["decisions"] == 3
    assert report["rows"] == report["columns"] == ["comparison-shopper", "deal-hunter"]
    assert report["matrix"] == [[2, 0], [0, 1]]


def test_a_candidate_with_other_class_names_disagrees_into_the_matrix(live: Model) -> None:
    shadow = Shadow(_renamed_slugs())
    got = shadow.observe(_comparer(), 1100.0, "comparison-shopper")
    assert got == "new-comparison-shopper"
    report = shadow.report()
    assert report["agreement_rate"] == 0.0
    assert report["rows"] == ["comparison-shopper"]
    assert report["columns"] == ["new-comparison-shopper"] and report["matrix"] == [[1]]


def test_shadow_counts_too_few_events_as_undetermined(live: Model) -> None:
    shadow = Shadow(live, min_events=3)
    state = make_session(event("compare", 1.0, value=2))
    assert shadow.observe(state, 2.0, "undetermined") == "undetermined"
    assert shadow.report()["agreement_rate"] == 1.0


def test_shadow_report_before_any_request_has_no_rate(live: Model) -> None:
    report = Shadow(live).report()
    assert report["agreement_rate"] is None and report["matrix"] == []
