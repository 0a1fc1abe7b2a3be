"""Holdout assignment: stable, keyed, reshuffled by the salt, and the share it promises."""

from __future__ import annotations

import pytest

from signals.cohorts import Cohorts


def test_cohorts_share_is_within_one_point_on_100k_ids() -> None:
    for share in (0.05, 0.2, 0.5):
        c = Cohorts("spring", b"key-material-0123", share)
        held = sum(c.is_holdout(f"device-{i}") for i in range(100_000))
        assert abs(held / 100_000 - share) <= 0.01


def test_cohorts_assignment_is_stable_and_keyed() -> None:
    a = Cohorts("spring", b"key-material-0123", 0.3)
    again = Cohorts("spring", b"key-material-0123", 0.3)  # another process, same secret
    ids = [f"p{i}" for i in range(2000)]
    assert [a.group(i) for i in ids] == [again.group(i) for i in ids]
    other_secret = Cohorts("spring", b"key-material-9999", 0.3)
    other_salt = Cohorts("spring", b"key-material-0123", 0.3, salt="spring-2")
    same = sum(a.group(i) == other_secret.group(i) for i in ids)
    assert same < 0.7 * len(ids)  # independent draws agree about 58 % of the time
    assert sum(a.group(i) == other_salt.group(i) for i in ids) < 0.7 * len(ids)


def test_cohorts_zero_share_keeps_everyone_in_treatment() -> None:
    c = Cohorts("off", b"key-material-0123", 0.0)
    assert {c.group(f"x{i}") for i in range(1000)} == {"treatment"}


def test_cohorts_reject_a_bad_share_or_name() -> None:
    with pytest.raises(ValueError, match="share"):
        Cohorts("x", b"k", 1.5)
    with pytest.raises(ValueError, match="name"):
        Cohorts("", b"k", 0.1)
