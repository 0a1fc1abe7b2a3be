from __future__ import annotations

import math

import pytest

from signals.events import EventKind as K
from signals.state import SessionState
from tests.factories import event, make_session

T = 1_700_000_000.0  # time stamps are epoch seconds


def test_state_decay_halves_after_one_half_life() -> None:
    s = make_session(event(K.COMPARE, 1000.0), half_life=600.0)
    assert s.counter(K.COMPARE, 1000.0) == pytest.approx(1.0)
    assert s.counter(K.COMPARE, 1600.0) == pytest.approx(0.5)
    assert s.counter(K.COMPARE, 2200.0) == pytest.approx(0.25)


def test_state_new_events_outweigh_old_ones() -> None:
    s = make_session(*(event(K.COMPARE, 0.0 + i) for i in range(4)), half_life=60.0)
    for i in range(2):
        s.apply(event(K.CART_ADD, 600.0 + i))
    assert s.counter(K.CART_ADD, 601.0) > s.counter(K.COMPARE, 601.0)


def test_state_dwell_from_page_gaps_is_capped_and_last_page_gets_none() -> None:
    s = make_session(event(K.PRODUCT_VIEW, T, "a"), event(K.PRODUCT_VIEW, T + 40.0, "b"),
                     event(K.PRODUCT_VIEW, T + 1000.0, "c"), dwell_cap=300.0, half_life=1e12)
    # Dwell on a (40 s) and on b (capped at 300 s); c is the last page: no dwell yet.
    from signals.state import DWELL_N, DWELL_SUM

    assert s.v[DWELL_N] == pytest.approx(2.0)
    assert s.v[DWELL_SUM] == pytest.approx(340.0)


def test_state_beacon_dwell_replaces_the_gap_estimate() -> None:
    from signals.state import DWELL_N, DWELL_SUM

    s = make_session(event(K.PRODUCT_VIEW, T, "a"), event(K.DWELL, T + 5.0, value=4200.0),
                     event(K.PRODUCT_VIEW, T + 60.0, "b"), half_life=1e12)
    assert s.v[DWELL_N] == pytest.approx(1.0)
    assert s.v[DWELL_SUM] == pytest.approx(4.2)


def test_state_distinct_products_and_revisits() -> None:
    s = make_session(*(event(K.PRODUCT_VIEW, float(i), p) for i, p in enumerate("abab")))
    from signals.state import DISTINCT_P, PV_TOTAL, REVISITS

    assert (s.v[DISTINCT_P], s.v[PV_TOTAL], s.v[REVISITS]) == (2.0, 4.0, 2.0)


def test_state_is_bounded_whatever_the_session_does() -> None:
    s = SessionState()
    size = s.nbytes()
    for i in range(5000):
        s.apply(event(K.PRODUCT_VIEW, float(i), f"p{i}", f"c{i % 300}"))
    assert s.nbytes() == size < 2048


def test_state_revert_undoes_a_404_product_view() -> None:
    s = make_session(event(K.PRODUCT_VIEW, 0.0, "a"))
    before = s.to_bytes()
    ev = event(K.PRODUCT_VIEW, 0.0, "ghost")
    s.apply(ev)
    s.revert(ev)
    assert s.events_seen == 1
    from signals.state import DISTINCT_P, PV_TOTAL

    assert s.v[DISTINCT_P] == 1.0 and s.v[PV_TOTAL] == 1.0
    assert s.counter(K.PRODUCT_VIEW, 0.0) == pytest.approx(1.0)
    assert len(before) == len(s.to_bytes())


def test_state_touch_measures_requests_per_minute() -> None:
    s = SessionState()
    rate = 0.0
    for i in range(600):
        rate = s.touch(i * 0.1)  # 10 requests a second
    assert 450 < rate < 750


def test_state_bytes_round_trip_and_reject_garbage() -> None:
    s = make_session(event(K.SEARCH, 10.0, query="x"), event(K.PRODUCT_VIEW, 20.0, "a", "c"))
    back = SessionState.from_bytes(s.to_bytes())
    assert back.to_bytes() == s.to_bytes()
    with pytest.raises(ValueError, match="bytes"):
        SessionState.from_bytes(b"short")
    bad = bytearray(s.to_bytes())
    bad[0:8] = bytes.fromhex("000000000000f07f")  # +inf
    with pytest.raises(ValueError, match="non-finite"):
        SessionState.from_bytes(bytes(bad))


def test_state_merge_aligns_decay_then_adds() -> None:
    a = make_session(event(K.COMPARE, T), half_life=100.0)
    b = make_session(event(K.COMPARE, T + 100.0), half_life=100.0)
    a.merge(b, T + 100.0)
    assert a.counter(K.COMPARE, T + 100.0) == pytest.approx(1.5)
    assert a.events_seen == 2 and a.started_at == T
    assert math.isfinite(a.counter(K.COMPARE, 1e6))


def test_sync_delta_and_adopt_add_up_across_two_writers() -> None:
    """Two processes add to one shared total through deltas; each ends with the sum."""
    from signals.events import EventKind, ShopperEvent
    from signals.state import add_delta, adopt, sync_delta

    shared = SessionState()
    a, b = shared.copy(), shared.copy()
    for i in range(3):
        a.apply(ShopperEvent(EventKind.PRODUCT_VIEW, 10.0 + i, product=f"a{i}"))
    b.apply(ShopperEvent(EventKind.SEARCH, 20.0))
    total = SessionState()
    add_delta(total, sync_delta(a, shared, 30.0), 30.0)
    add_delta(total, sync_delta(b, shared, 30.0), 30.0)
    assert total.events_seen == 4
    assert abs(total.counter(EventKind.PRODUCT_VIEW, 30.0)
               - a.counter(EventKind.PRODUCT_VIEW, 30.0)) < 1e-12
    assert total.counter(EventKind.SEARCH, 30.0) == b.counter(EventKind.SEARCH, 30.0)
    assert sorted(h for h in total.products if h) == sorted(h for h in a.products if h)
    rate_before = b.touch(30.0)
    adopt(b, total.copy(), None, 30.0)
    assert b.events_seen == 4 and b.touch(30.0) > rate_before  # local-only fields kept
    assert sync_delta(total, total, 30.0).is_empty()
    add_delta(total, sync_delta(a, shared, 30.0), 40.0, sign=-1.0)
    assert total.events_seen == 1 and total.counter(EventKind.PRODUCT_VIEW, 40.0) < 1e-12
