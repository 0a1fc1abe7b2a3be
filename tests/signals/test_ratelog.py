"""The rate-limited log (signals/ratelog.py), stepped by an injected clock: no sleeps."""

from __future__ import annotations

import logging

import pytest

from signals.ratelog import RateLimitedLog


class _Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def caught(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="tests.ratelog")
    return caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "tests.ratelog"]


def test_one_line_per_interval_and_the_next_says_how_many_were_held(
    caught: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    log = RateLimitedLog(logging.getLogger("tests.ratelog"), 10.0, clock)
    assert log.warning("store down: %s", "timeout") is True
    for step in (1.0, 5.0, 9.99):
        clock.now = 100.0 + step
        assert log.warning("store down: %s", "timeout") is False
    assert log.suppressed() == 3
    clock.now = 110.0  # a full interval after the last line written
    assert log.warning("store down: %s", "refused") is True
    assert log.suppressed() == 0
    clock.now = 125.0
    assert log.warning("store down: %s", "refused") is True  # nothing held back since
    assert _lines(caught) == [
        (logging.WARNING, "store down: timeout"),
        (logging.WARNING, "store down: refused (3 similar suppressed)"),
        (logging.WARNING, "store down: refused"),
    ]


def test_keys_are_limited_apart_and_levels_are_kept(caught: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    log = RateLimitedLog(logging.getLogger("tests.ratelog"), 10.0, clock)
    assert log.warning("skipped (%s)", "budget", key="budget")
    assert log.error("skipped (%s)", "error", key="error")  # another key: not held back
    assert not log.warning("skipped (%s)", "budget", key="budget")
    assert log.suppressed("budget") == 1 and log.suppressed("error") == 0
    assert log.log(logging.INFO, "hello", key="info")
    assert _lines(caught) == [(logging.WARNING, "skipped (budget)"),
                              (logging.ERROR, "skipped (error)"), (logging.INFO, "hello")]


def test_the_record_names_the_caller_not_the_log(caught: pytest.LogCaptureFixture) -> None:
    RateLimitedLog(logging.getLogger("tests.ratelog")).error("from the caller")
    (record,) = [r for r in caught.records if r.name == "tests.ratelog"]
    assert record.funcName == "test_the_record_names_the_caller_not_the_log"


def test_interval_zero_writes_every_line_and_a_negative_one_is_refused(
    caught: pytest.LogCaptureFixture,
) -> None:
    log = RateLimitedLog(logging.getLogger("tests.ratelog"), 0.0, _Clock())
    assert log.warning("a") and log.warning("a")
    assert len(_lines(caught)) == 2
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="interval"):
            RateLimitedLog(logging.getLogger("tests.ratelog"), bad)
