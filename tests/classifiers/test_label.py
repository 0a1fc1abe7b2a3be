"""The classification rule, ``Scorer.label`` in classifiers/kernels.py: too few events, then the
kernel (requirements, one-sided radius, hysteresis). Hand-worked cases for each way out, the
rule against the numpy reference on random artifacts, the batch form against the single one,
and the engine, the shadow model and the explanation giving the same class for any session,
because they all decide through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from classifiers import UNDETERMINED
from classifiers.artifact import Model
from classifiers.kernels import (
    BEYOND_RADIUS,
    FEW_EVENTS,
    MIN_EVENTS,
    NO_CLASS_HOLDS,
    Scorer,
    score_one_reference,
)
from explain.explanation import explain
from explain.shadow import Shadow
from proxy.app import build_runtime
from proxy.engine import Decision, Engine
from signals.events import EventKind, ShopperEvent
from signals.features import FeatureExtractor
from tests.classifiers.test_requirements import _model, artifacts, events_st

BROWSER_UA = b"Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"


def _two_classes() -> Model:
    """"browsers" at the origin, "comparers" 2 scaled units up comparisons, requiring one; both
    with radius 1."""
    return _model([[0.0, 0.0], [0.0, 2.0]], [[], [("comparisons", 1.0)]],
                  names=("product_views", "comparisons"), radius=1.0)


# -- each way out of the rule, worked by hand ----------------------------------------------------


def test_too_few_events_is_undetermined_whatever_the_vector_says() -> None:
    scorer = Scorer(_two_classes(), min_events=3)
    x = np.array([0.0, 0.1])  # on the "browsers" centre
    assert scorer.score(x)[0] == 0  # the kernel alone would give it
    assert not scorer.scores(2) and scorer.scores(3)
    assert scorer.label(2, x) == (-1, -1, 0.0, 0)
    assert scorer.reason(2, -1, -1) == FEW_EVENTS
    # The distances stay for an explanation to show; nothing is evidence for a class.
    np.testing.assert_allclose(scorer.d2, [0.01, 3.61])
    assert not scorer.evidence.any() and not scorer.contrib.any()
    cls, runner, _, _ = scorer.label(3, x)
    assert (cls, runner) == (0, -1) and scorer.reason(3, cls, runner) is None
    assert scorer.slug(cls) == "class-0" and scorer.slug(-1) == UNDETERMINED


def test_no_class_whose_requirements_hold_is_undetermined() -> None:
    # Both classes rest on a behaviour; a session that shows neither has no class to go to.
    model = _model([[0.0, 2.0, 0.0], [0.0, 0.0, 2.0]],
                   [[("comparisons", 1.0)], [("cart_adds", 1.0)]],
                   names=("product_views", "comparisons", "cart_adds"), radius=50.0)
    scorer = Scorer(model, min_events=0)
    cls, runner, confidence, _ = scorer.label(5, np.array([1.0, 0.0, 0.0]))
    assert (cls, runner, confidence) == (-1, -1, 0.0)
    assert scorer.reason(5, cls, runner) == NO_CLASS_HOLDS


def test_beyond_the_one_sided_radius_is_undetermined_more_of_the_class_is_not() -> None:
    scorer = Scorer(_two_classes(), min_events=1)
    far = np.array([3.0, 0.0])  # many product views: a direction "browsers" does not define
    cls, runner, _, _ = scorer.label(4, far)
    assert (cls, runner) == (-1, 0) and scorer.reason(4, cls, runner) == BEYOND_RADIUS
    lots = np.array([0.0, np.log1p(50.0)])  # far more comparisons than the centre: still theirs
    assert scorer.label(4, lots)[0] == 1


def test_hysteresis_reaches_label_through_prev() -> None:
    model = _model([[0.0, 0.0], [2.0, 0.0]], names=("product_views", "comparisons"),
                   radius=50.0)
    scorer = Scorer(model, 0.2, min_events=1)
    x = np.array([1.05, 0.0])  # nearer class 1, by under the 20 % margin
    assert scorer.label(1, x, 0)[0] == 0 and scorer.label(1, x, -1)[0] == 1
    assert scorer.label(0, x, 0)[0] == -1  # too few events wins over a class held


def test_min_events_is_checked_and_defaults_to_the_proxys() -> None:
    assert Scorer(_two_classes()).min_events == MIN_EVENTS == 3
    with pytest.raises(ValueError, match="min_events"):
        Scorer(_two_classes(), min_events=-1)


def test_label_batch_applies_event_counts_and_zeroes_confidence() -> None:
    scorer = Scorer(_two_classes(), min_events=3)
    X = np.array([[0.0, 0.1], [0.0, 0.1], [3.0, 0.0], [np.nan, 0.0]])
    labels, confidence = scorer.label_batch(X, [5, 2, 5, 5])
    assert labels.tolist() == [0, -1, -1, -1]
    assert confidence[0] == 1.0 and not confidence[1:].any()
    assert scorer.label_batch(X)[0].tolist() == [0, 0, -1, -1]  # no counts: all have enough
    with pytest.raises(ValueError, match="events must have shape"):
        scorer.label_batch(X, [5, 5])


# -- the rule on random artifacts ------------------------------------------------------------------


def _reference_label(model: Model, x: np.ndarray, events: int, prev: int, margin: float,
                     min_events: int) -> int:
    """The rule written out once more, the plain way: too few events, else the reference."""
    if events < min_events:
        return -1
    return score_one_reference(x, model, prev, margin)[0]


@settings(max_examples=150, deadline=None)
@given(artifacts(), st.data())
def test_label_matches_the_reference_rule(model: Model, data: st.DataObject) -> None:
    d = model.d
    x = np.array(data.draw(st.lists(st.floats(-3.0, 6.0), min_size=d, max_size=d)))
    events = data.draw(st.integers(0, 6))
    min_events = data.draw(st.integers(0, 5))
    prev = data.draw(st.integers(-1, model.k - 1))
    margin = data.draw(st.floats(0.0, 0.9))
    scorer = Scorer(model, margin, min_events=min_events)
    cls, runner, confidence, _ = scorer.label(events, x, prev)
    assert cls == _reference_label(model, x, events, prev, margin, min_events)
    why = scorer.reason(events, cls, runner)
    assert (why is None) == (cls >= 0)
    assert (why == FEW_EVENTS) == (events < min_events) == (not scorer.scores(events))
    if cls < 0:
        assert confidence == 0.0 and not scorer.evidence.any() and not scorer.contrib.any()
    else:
        assert 0.0 <= confidence <= 1.0
    assert scorer.slug(cls) == (UNDETERMINED if cls < 0 else model.slugs[cls])


@settings(max_examples=100, deadline=None)
@given(artifacts(), st.data())
def test_label_batch_is_label_row_by_row_without_hysteresis(
    model: Model, data: st.DataObject
) -> None:
    n, d = data.draw(st.integers(1, 8)), model.d
    X = np.array(data.draw(st.lists(
        st.lists(st.floats(-3.0, 6.0), min_size=d, max_size=d), min_size=n, max_size=n)))
    events = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    scorer = Scorer(model, min_events=data.draw(st.integers(0, 5)))
    labels, confidence = scorer.label_batch(X, events)
    for i in range(n):
        cls, _, conf, _ = scorer.label(int(events[i]), np.ascontiguousarray(X[i]))
        assert labels[i] == cls
        assert confidence[i] == pytest.approx(conf, abs=1e-12)


# -- the engine, the shadow model and the explanation agree -------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    data_dir: Path = tmp_path_factory.mktemp("label-engine")
    runtime = build_runtime({"secret": "r" * 32, "bot_max_rate": 1e12, "audit": False,
                             "data_dir": str(data_dir), "min_events": MIN_EVENTS,
                             "class_switch_margin": 0.25, "session_ttl": 10 * 86400.0,
                             # a model just activated compiles nothing, but a loaded machine
                             # must not fail a decision open here
                             "budget_ms": 60_000.0})
    runtime.registry.startup()
    runtime.engine.observer = None  # governance would queue every decision; not under test
    yield runtime.engine


def _engine_decides(engine: Engine, events: list[tuple[EventKind, float, int]],
                    ) -> tuple[Decision, float]:
    """A new session whose state holds ``events``, then one request to an unknown page
    (a page view), as the proxy sees it."""
    token = engine.codec.new_token()
    state = engine.store.create(token, 1000.0)
    now = 1000.0
    for kind, dt, product in events:
        now += dt
        state.apply(ShopperEvent(kind, now, f"p{product}", f"c{product % 3}"))
    now += 1.0
    engine.clock = lambda: now
    decision = engine.classify("GET", "/about-us", b"", [b"ig_sid=" + token.encode()],
                               BROWSER_UA, True, True, False)
    assert isinstance(decision, Decision) and decision.state is state
    return decision, now


@settings(max_examples=120, deadline=None)
@given(artifacts(), events_st)
def test_engine_shadow_and_explanation_give_the_same_class(
    engine: Engine, model: Model, events: list[tuple[EventKind, float, int]]
) -> None:
    engine.activate(model)  # a fresh hysteresis memory: no session has a previous class
    decision, now = _engine_decides(engine, events)
    header = dict(decision.headers)[b"x-intent-class"].decode()
    state = decision.state
    shadow = Shadow(model, min_events=engine.options.min_events).classify(state, now)
    told = explain(model, state, now, min_events=engine.options.min_events,
                   switch_margin=engine.options.class_switch_margin)
    assert header == decision.slug == shadow == told["class"]
    # ... and all of them are the rule's answer for this state.
    x = FeatureExtractor(model.feature_names, model.transforms).vector(state, now)
    scorer = Scorer(model, min_events=engine.options.min_events)
    cls, runner, confidence, _ = scorer.label(state.events_seen, x)
    assert header == scorer.slug(cls)
    event(scorer.reason(state.events_seen, cls, runner) or "class given")  # what was covered
    assert (told["undetermined_reason"] is None) == (cls >= 0)
    if cls >= 0:
        shown = float(dict(decision.headers)[b"x-intent-confidence"])
        assert shown == pytest.approx(confidence, abs=0.006)
        assert told["confidence"] == pytest.approx(confidence, abs=1e-4)
