"""Requirements: declared in the artifact or derived from a class's words, never violated by the
kernel (property tests over random artifacts and random sessions), plus the one-sided radius
and the hysteresis of the class given."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.artifact import Model, load_model, seal
from classifiers.errors import ArtifactError
from classifiers.kernels import Scorer
from classifiers.requirements import derive
from classifiers.stability import ClassMemory, count_flips
from proxy.models import bundled_model_bytes
from signals.events import EventKind, ShopperEvent
from signals.features import FEATURE_NAMES, FeatureExtractor, raw_value
from signals.state import SessionState
from tests.factories import artifact_content

COUNTERS = ("product_views", "comparisons", "cart_adds", "searches", "wishlist_adds",
            "deal_views")


def _model(centroids: list[list[float]], requires: list[list[tuple[str, float]]] | None = None,
           **kw: Any) -> Model:
    content = artifact_content(centroids, **kw)
    for card, reqs in zip(content["classes"], requires or [], strict=False):
        card["requires"] = [{"signal": s, "min": m} for s, m in reqs]
    return load_model(seal(content))


# -- the artifact --------------------------------------------------------------------------


def test_requirements_are_validated_and_kept_in_the_canonical_bytes() -> None:
    model = _model([[0.0, 0.0], [0.0, 3.0]], [[], [("comparisons", 1.0)]],
                   names=("product_views", "comparisons"))
    assert model.requirements == ((), (("comparisons", 1.0),))
    assert not model.requirements_derived
    doc = orjson.loads(model.to_bytes())
    assert "requires" not in doc["classes"][0]
    assert doc["classes"][1]["requires"] == [{"signal": "comparisons", "min": 1.0}]
    assert np.isinf(model.req_bounds[0]).all()
    assert model.req_bounds[1, 1] == pytest.approx(np.log1p(1.0))
    for bad, message in [
        ([("cart_adds", 1.0)], "unknown signal 'cart_adds'"),
        ([("comparisons", 1.0), ("comparisons", 2.0)], "required twice"),
        ([("comparisons", 0.0)], "greater than 0"),
    ]:
        with pytest.raises(ArtifactError, match=message):
            _model([[0.0, 0.0], [0.0, 3.0]], [[], bad], names=("product_views", "comparisons"))


def test_an_artifact_without_requirements_keeps_its_version() -> None:
    data = bundled_model_bytes()
    model = load_model(data)
    assert model.to_bytes() == data  # no "requires": [] was added, the content hash holds


def test_bundled_model_states_its_requirements_and_each_rests_on_its_name() -> None:
    model = load_model(bundled_model_bytes())
    assert not model.requirements_derived  # fit wrote them; nothing is guessed at load
    reqs = {slug: dict(r) for slug, r in zip(model.slugs, model.requirements, strict=True)}
    for slug, signal in (("cart-builder", "cart_adds"), ("wishlist-saver", "wishlist_adds"),
                         ("comparison-shopper", "comparisons"),
                         ("price-sensitive-researcher", "price_sorts"),
                         ("search-led-browser", "searches")):
        assert reqs[slug].get(signal, 0.0) > 0.0, slug
    assert any(not r for r in reqs.values())  # a class for sessions that show none of them


def test_derive_needs_the_word_the_feature_and_a_high_centroid() -> None:
    names = ("product_views", "cart_adds", "comparisons")
    assert derive(("cart-fan", "Cart fan", ""), names, [0.0, 1.2, 0.0]) == (("cart_adds", 0.1),)
    assert derive(("browser", "Browser", "never adds to cart"), names, [1.0, 0.1, 0.0]) == ()
    assert derive(("deal-hunter", "Deal hunter", ""), names, [0.0, 0.0, 0.0]) == ()  # no feature
    assert derive(("comparer", "Comparison shopper", ""), names, [0.0, 0.0, 2.0]) == (
        ("comparisons", 0.1),)


# -- the kernel never gives a class whose requirements do not hold ----------------------------

_KINDS = [EventKind.PRODUCT_VIEW, EventKind.COMPARE, EventKind.CART_ADD, EventKind.SEARCH,
          EventKind.WISHLIST_ADD, EventKind.DEAL_VIEW, EventKind.CATEGORY_VIEW]

events_st = st.lists(
    st.tuples(st.sampled_from(_KINDS), st.floats(0.0, 900.0), st.integers(0, 5)),
    min_size=0, max_size=25)


@st.composite
def artifacts(draw: st.DrawFn) -> Model:
    d = draw(st.integers(2, 6))
    names = draw(st.permutations(FEATURE_NAMES)).__getitem__(slice(0, d))
    k = draw(st.integers(2, 6))
    coord = st.floats(-3.0, 3.0, allow_nan=False)
    centroids = [[draw(coord) for _ in range(d)] for _ in range(k)]
    requires = []
    for _ in range(k):
        chosen = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        requires.append([(n, draw(st.floats(0.01, 5.0))) for n in chosen])
    content = artifact_content(
        centroids, names=tuple(names),
        mean=[draw(st.floats(-1.0, 2.0)) for _ in range(d)],
        scale=[draw(st.floats(0.1, 3.0)) for _ in range(d)],
        radius=[draw(st.floats(0.1, 50.0)) for _ in range(k)])
    for f, spec in enumerate(content["features"]):
        spec["transform"] = draw(st.sampled_from(("log1p", "sqrt", "identity")))
        del f
    for card, reqs in zip(content["classes"], requires, strict=True):
        card["requires"] = [{"signal": s, "min": m} for s, m in reqs]
        card["characteristics"] = []
    return load_model(seal(content))


def _state(events: list[tuple[EventKind, float, int]]) -> tuple[SessionState, float]:
    state = SessionState()
    now = 1000.0
    for kind, dt, product in events:
        now += dt
        state.apply(ShopperEvent(kind, now, f"p{product}", f"c{product % 3}"))
    return state, now + 1.0


@settings(max_examples=200, deadline=None)
@given(artifacts(), events_st, st.integers(-1, 5), st.floats(0.0, 0.9))
def test_no_class_is_given_whose_requirements_do_not_hold(
    model: Model, events: list[tuple[EventKind, float, int]], prev: int, margin: float
) -> None:
    state, now = _state(events)
    x = FeatureExtractor(model.feature_names, model.transforms).vector(state, now)
    scorer = Scorer(model, margin)
    cls, _, confidence, _ = scorer.score(x, prev if prev < model.k else -1)
    raw = {n: raw_value(state, n, now) for n in model.feature_names}
    if cls >= 0:
        for signal, minimum in model.requirements[cls]:
            assert raw[signal] >= minimum, (model.slugs[cls], signal, raw[signal], minimum)
        assert 0.0 <= confidence <= 1.0
        # Evidence: only signals the shopper showed, shares in 0..1 adding up to 1.
        evidence = scorer.evidence
        for f, name in enumerate(model.feature_names):
            assert evidence[f] >= 0.0
            if evidence[f] > 0.0:
                assert raw[name] != 0.0
    labels, _ = scorer.score_batch(x.reshape(1, -1), use_radius=True)
    if labels[0] >= 0:
        for signal, minimum in model.requirements[int(labels[0])]:
            assert raw[signal] >= minimum


# -- the one-sided radius ---------------------------------------------------------------------


def test_more_of_what_defines_a_class_is_still_that_class() -> None:
    # Class 1 is defined by comparisons (centroid 2 scaled units above the mean).
    model = _model([[0.0, 0.0], [0.0, 2.0]], names=("product_views", "comparisons"),
                   radius=1.0, scale=[0.5, 0.5])
    scorer = Scorer(model)
    # log1p(comparisons) / 0.5: 1.0 sits on the centroid; 50 comparisons is far beyond it.
    near = np.array([0.0, 1.0])
    far_more = np.array([0.0, np.log1p(50.0)])
    assert scorer.score(near)[0] == 1
    assert scorer.score(far_more)[0] == 1
    # A genuinely new combination (many product views, in a direction class 1 does not
    # define) is left undetermined.
    assert scorer.score(np.array([4.0, 1.0]))[0] == -1


# -- hysteresis --------------------------------------------------------------------------------


def test_hysteresis_keeps_the_class_until_another_is_clearly_nearer() -> None:
    model = _model([[0.0, 0.0], [2.0, 0.0]], names=("product_views", "comparisons"),
                   radius=50.0)
    plain, sticky = Scorer(model, 0.0), Scorer(model, 0.2)
    x = np.array([1.05, 0.0])  # d0 = 1.05, d1 = 0.95: nearer class 1, by under 20 %
    assert plain.score(x, 0)[0] == 1
    assert sticky.score(x, 0)[0] == 0  # keeps class 0
    assert sticky.score(x, -1)[0] == 1  # no previous class: the nearest
    x = np.array([1.5, 0.0])  # d1 = 0.5 <= 0.8 * 1.5: clearly nearer
    assert sticky.score(x, 0)[0] == 1


def test_hysteresis_never_keeps_a_class_whose_requirement_stopped_holding() -> None:
    model = _model([[0.0, 0.0], [0.0, 2.0]], [[], [("comparisons", 1.0)]],
                   names=("product_views", "comparisons"), radius=50.0)
    scorer = Scorer(model, 0.9)
    assert scorer.score(np.array([0.0, np.log1p(0.5)]), 1)[0] == 0


def test_class_memory_is_bounded_and_restores_only_its_own_change() -> None:
    mem = ClassMemory(capacity=2)
    mem.set("a", 1)
    mem.set("b", 2)
    mem.set("c", 3)
    assert len(mem) == 2 and mem.get("a") == -1 and mem.get("c") == 3
    mem.set("c", -1)
    assert mem.get("c") == -1 and len(mem) == 1
    mem.set("b", 4)
    assert mem.restore("b", 4, 2) and mem.get("b") == 2
    assert not mem.restore("b", 4, 7) and mem.get("b") == 2  # moved on since: left alone


def test_count_flips_counts_a_return_within_the_window() -> None:
    assert count_flips([[0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1, 0], [0, 0, 1], [-1, 2, -1]]) == 2
    assert count_flips([["a", "undetermined", "a"]]) == 1
