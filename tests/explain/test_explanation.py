"""Explanations: raw values in words, exact attribution, distances, and the session journal."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.artifact import load_model
from classifiers.kernels import Scorer, score_one_reference
from explain.explanation import (
    SessionJournal,
    evidence_shares,
    explain,
    in_words,
)
from proxy.models import bundled_model_bytes
from signals.features import FeatureExtractor
from tests.factories import event, make_session


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return load_model(bundled_model_bytes())


@pytest.mark.parametrize(("name", "value", "minutes", "words"), [
    ("comparisons", 4.0, 6.2, "4 comparisons in 6 minutes"),
    ("comparisons", 1.0, 0.5, "1 comparison in under a minute"),
    ("searches", 3.61, 12.0, "about 3.6 searches in 12 minutes"),
    ("cart_adds", 1.0, 1.0, "1 add to cart in 1 minute"),
    ("dwell_per_product_s", 42.4, 3.0, "42 seconds per product page on average"),
    ("distinct_products", 7.0, 3.0, "7 different products seen"),
    ("distinct_categories", 1.0, 3.0, "1 different category seen"),
    ("session_minutes", 6.0, 6.0, "6 minutes since the first page"),
    ("revisit_rate", 0.25, 6.0, "25 % of product views were revisits"),
])
def test_in_words_gives_counts_with_units_and_time(
    name: str, value: float, minutes: float, words: str
) -> None:
    assert in_words(name, value, minutes) == words


def _comparer() -> object:
    return make_session(*(event("compare", 1000.0 + 30 * i, value=3) for i in range(4)))


def test_explain_lists_what_the_shopper_did_and_keeps_the_exact_attribution(model) -> None:  # type: ignore[no-untyped-def]
    state = _comparer()
    out = explain(model, state, 1120.0)
    assert out["class"] == "comparison-shopper" and out["undetermined_reason"] is None
    top = out["signals"][0]
    assert top["signal"] == "comparisons"
    assert top["in_words"] == "about 3.7 comparisons in 2 minutes"  # decayed counts
    # Only signals the shopper showed, as shares of the positive evidence.
    assert all(s["raw_value"] > 0 and 0.0 < s["share"] <= 1.0 for s in out["signals"])
    assert sum(s["share"] for s in out["signals"]) == pytest.approx(1.0, abs=1e-3)
    # The technical detail: every signal's margin contribution, adding up to the margin.
    attribution = out["attribution"]
    assert len(attribution) == model.d
    assert sum(a["contribution"] for a in attribution) == pytest.approx(out["margin"], abs=1e-5)
    assert out["requirements"] == [{"signal": "comparisons", "min": 0.5,
                                    "raw_value": top["raw_value"], "holds": True}]
    assert set(out["distances"]) == set(model.slugs)


def test_explain_distances_and_confidence_match_the_numpy_reference(model) -> None:  # type: ignore[no-untyped-def]
    state = _comparer()
    x = FeatureExtractor(model.feature_names, model.transforms).vector(state, 1120.0)
    c, r, conf, d2, _, _, _ = score_one_reference(x, model)
    out = explain(model, state, 1120.0)
    assert out["class"] == model.slugs[c] and out["runner_up"] == model.slugs[r]
    assert out["confidence"] == pytest.approx(conf, abs=1e-4)
    for slug, dist in zip(model.slugs, np.sqrt(d2), strict=True):
        assert out["distances"][slug] == pytest.approx(dist, abs=1e-4)


def test_explain_says_why_a_session_is_undetermined(model) -> None:  # type: ignore[no-untyped-def]
    state = make_session(event("product_view", 10.0, product="a"))
    out = explain(model, state, 20.0, min_events=3)
    assert out["class"] == "undetermined" and "fewer than 3 events" in out["undetermined_reason"]
    assert out["confidence"] == 0.0 and out["signals"] == []


def test_explain_gives_the_class_the_proxy_gives_with_hysteresis(model) -> None:  # type: ignore[no-untyped-def]
    state = _comparer()
    x = FeatureExtractor(model.feature_names, model.transforms).vector(state, 1120.0)
    for previous in (None, *model.slugs):
        prev = model.slugs.index(previous) if previous else -1
        cls, _, conf, _ = Scorer(model, 0.5).score(x, prev)
        out = explain(model, state, 1120.0, previous=previous, switch_margin=0.5)
        assert out["class"] == (model.slugs[cls] if cls >= 0 else "undetermined")
        assert out["confidence"] == pytest.approx(conf, abs=1e-4)


def test_evidence_shares_are_shares_of_the_positive_evidence_highest_first() -> None:
    evidence = np.array([0.1, 2.0, 0.0, 0.9, 1.0])
    assert evidence_shares(evidence, ("a", "b", "c", "d", "e"), 3) == (
        ("b", 0.5), ("e", 0.25), ("d", 0.22))  # as the header prints them: rounded down
    assert evidence_shares(np.zeros(3), ("a", "b", "c")) == ()


def test_journal_is_bounded_in_sessions_and_in_events_per_session() -> None:
    journal = SessionJournal(capacity=2, events_per_session=3, changes_per_session=2)
    j = journal.entry("s1", "p-s1", "prof")
    for i in range(5):
        journal.add_event(j, event("product_view", float(i), product=f"x{i}"))
    assert [s.product for s in j.events] == ["x2", "x3", "x4"]
    journal.entry("s2", "p-s2", "prof")
    journal.entry("s1", "p-s1", "prof")  # s1 is now the most recent
    journal.entry("s3", "p-s3", "other")
    assert not journal.contains("s2") and journal.contains("s1") and len(journal) == 2
    assert journal.session_of("p-s1") == "s1" and journal.session_of("p-s2") is None


def test_journal_finds_sessions_by_any_profile_they_had_and_drops_them() -> None:
    journal = SessionJournal()
    journal.entry("s1", "p1", "device-profile")
    journal.entry("s1", "p1", "user-profile")  # the shopper logged in
    journal.entry("s2", "p2", "someone-else")
    assert journal.sessions_of({"device-profile"}) == ["s1"]
    assert journal.sessions_of({"user-profile"}) == ["s1"]
    assert journal.drop("s1") and not journal.drop("s1")
    assert journal.session_of("p1") is None


def test_journal_truncates_long_text_fields() -> None:
    journal = SessionJournal()
    j = journal.entry("s", "p", "prof")
    journal.add_event(j, event("search", 1.0, query="q" * 500))
    assert len(j.events[0].query or "") == 80
    assert j.to_dict()["timeline"][0]["kind"] == "search"


def test_journal_undo_takes_out_the_class_change_of_an_undone_event() -> None:
    journal = SessionJournal()
    j = journal.entry("s1", "p-s1", "prof")
    first = event("product_view", 10.0, product="a")
    journal.add_event(j, first)
    j.last_class = "careful-reader"
    missing = event("product_view", 20.0, product="gone")
    journal.add_event(j, missing)
    from explain.explanation import Change
    j.changes.append(Change(20.0, "product-explorer", "careful-reader", 0.4, "v", (), ()))
    j.last_class = "product-explorer"
    assert journal.undo(j, 20.0, "product-explorer", missing) == (True, "careful-reader")
    assert j.last_class == "careful-reader"
    assert not j.changes
    # The event stays in the timeline, marked undone (by mark_undone, as the proxy does).
    assert journal.mark_undone("s1", 20.0)
    assert [(s.ts, s.undone) for s in j.events] == [(10.0, False), (20.0, True)]
    # Nothing to undo: the class stays.
    assert journal.undo(j, 30.0, "deal-hunter", None) == (False, None)
    assert j.last_class == "careful-reader"


def test_explain_names_what_each_segment_that_cannot_be_given_still_needs(model) -> None:  # type: ignore[no-untyped-def]
    # Four product views and nothing else: every class resting on a signal the shopper has
    # not shown enough of (cart adds, comparisons, price sorts...) says which.
    state = make_session(*(event("product_view", 10.0 * t, product=f"p{t}") for t in range(4)))
    out = explain(model, state, 40.0)
    requires = {slug: dict(reqs)
                for slug, reqs in zip(model.slugs, model.requirements, strict=True)}
    assert out["unmet"]  # the bundled model has classes that rest on signals
    for slug, needs in out["unmet"].items():
        assert needs and set(needs) <= set(requires[slug])
        raw = {a["signal"]: a["raw_value"] for a in out["attribution"]}
        assert all(raw[sig] < requires[slug][sig] for sig in needs)
    assert out["class"] not in out["unmet"]
    assert "cart-builder" in out["unmet"] and out["unmet"]["cart-builder"] == ["cart_adds"]
