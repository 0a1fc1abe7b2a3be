"""Outcome counting: one session counted once, in the class it held before its first outcome."""

from __future__ import annotations

from signals.events import EventKind
from signals.outcomes import OutcomeBook, field_name, rows


def _row(book: OutcomeBook, cls: str, group: str = "treatment") -> dict[str, object]:
    for r in rows(book.counts.items()):
        if r["class"] == cls and r["group"] == group:
            return r
    return {}


def test_outcomes_session_moves_with_its_class_until_the_first_outcome() -> None:
    book = OutcomeBook()
    s = book.open("s1", False, "m1", "undetermined")
    book.classified(s, "m1", "deal-hunter")
    book.classified(s, "m1", "deal-hunter")
    assert _row(book, "deal-hunter")["sessions"] == 1
    assert _row(book, "undetermined")["sessions"] == 0
    book.outcome(s, EventKind.CART_ADD)
    book.classified(s, "m1", "cart-abandoner")  # after the outcome: attribution is frozen
    book.outcome(s, EventKind.CART_ADD)  # a second cart add is not a second session with one
    book.outcome(s, EventKind.PURCHASE, 12.5)
    r = _row(book, "deal-hunter")
    got = (r["sessions"], r["cart"], r["purchase"], r["orders"], r["revenue"])
    assert got == (1, 1, 1, 1, 12.5)
    assert _row(book, "cart-abandoner") == {}


def test_outcomes_groups_are_counted_apart() -> None:
    book = OutcomeBook()
    book.open("a", False, "m", "x")
    h = book.open("b", True, "m", "x")
    book.outcome(h, EventKind.CHECKOUT_STEP)
    assert _row(book, "x", "holdout")["checkout"] == 1
    assert _row(book, "x", "treatment")["checkout"] == 0


def test_outcomes_pending_is_bounded_by_fields_and_restored_after_a_failed_push() -> None:
    woken = []
    book = OutcomeBook(shared=True, on_pending=lambda: woken.append(1))
    for i in range(500):
        s = book.open(f"s{i}", i % 2 == 0, "m", "x")
        book.outcome(s, EventKind.PURCHASE, 2.0)
    assert len(book.pending) == 8  # 2 groups x sessions/purchase/orders/revenue
    assert woken == [1]
    taken = book.take_pending()
    book.open("late", False, "m", "x")
    book.restore(taken)  # the push failed: nothing counted is lost
    assert book.pending[field_name("m", "x", False, "sessions")] == 251
    assert book.pending[field_name("m", "x", True, "revenue")] == 500.0


def test_outcomes_lru_is_bounded() -> None:
    book = OutcomeBook(capacity=10)
    for i in range(25):
        book.open(f"s{i}", False, "m", "x")
    assert len(book) == 10 and book.evicted == 15
    assert book.session("s0") is None and book.session("s24") is not None
