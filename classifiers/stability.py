"""Keeping classes stable, and counting what went wrong on a replay.

``ClassMemory`` remembers each session's class for the kernel's hysteresis (bounded; one per
active model, so a model swap starts afresh). The counters are pure functions over plain
sequences, so the proxy's replay script, tests and ``evaluate`` can all use them:

- ``count_flips``: sessions with an A → B → A flip within ``window`` events;
- ``count_requirement_violations``: decisions that gave a class whose requirements do not hold;
- ``count_explanation_problems``: listed signals whose raw value is 0, shares outside 0..1,
  lists whose shares add up to more than 1;
- ``replay_problems`` puts them together per dataset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from classifiers.artifact import UNDETERMINED

NO_CLASS = -1  # the index of "no class given" (undetermined)


class ClassMemory:
    """Session key -> the class index it was last given. Holds at most ``capacity`` keys (the
    oldest inserted goes first); only sessions with a class are kept. Losing a key costs that
    session nothing but one decision without hysteresis."""

    __slots__ = ("capacity", "_m")

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._m: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._m)

    def get(self, key: str) -> int:
        return self._m.get(key, NO_CLASS)

    def set(self, key: str, cls: int) -> None:
        m = self._m
        if cls < 0:
            m.pop(key, None)
            return
        m[key] = cls
        if len(m) > self.capacity:
            del m[next(iter(m))]

    def restore(self, key: str, given: int, previous: int) -> bool:
        """Undo a decision that moved ``key`` from ``previous`` to ``given`` (its event was
        undone), unless a later decision already moved it on. True when restored."""
        if self.get(key) != given:
            return False
        self.set(key, previous)
        return True


def count_flips(labels: Sequence[Sequence[int | str]], window: int = 3) -> int:
    """Sessions (one label sequence each, one label per event) in which a class A is followed
    by a different label B and then A again, all within ``window`` events of the first A
    (A → B → A with the return at most ``window`` events after A)."""
    flipped = 0
    for seq in labels:
        n = len(seq)
        found = False
        for i in range(n - 1):
            a = seq[i]
            if a == NO_CLASS or a == UNDETERMINED or seq[i + 1] == a:
                continue
            for j in range(i + 2, min(i + window, n - 1) + 1):
                if seq[j] == a:
                    found = True
                    break
            if found:
                break
        flipped += found
    return flipped


def count_requirement_violations(
    labels: Sequence[int], raw: Sequence[Sequence[float]],
    requirements: Sequence[Sequence[tuple[int, float]]],
) -> int:
    """Decisions whose class (index into ``requirements``; < 0 undetermined) has a
    requirement ``(feature index, raw minimum)`` the decision's raw values do not meet."""
    bad = 0
    for label, values in zip(labels, raw, strict=True):
        if label < 0:
            continue
        if any(not values[f] >= m for f, m in requirements[label]):
            bad += 1
    return bad


@dataclass(frozen=True)
class ExplanationProblems:
    zero_signal: int = 0  # listed signals whose raw value is 0
    share_out_of_range: int = 0  # listed shares outside 0..1
    sum_over_one: int = 0  # explanations whose shares add up to more than 1


def count_explanation_problems(
    explanations: Sequence[Sequence[tuple[int, float]]], raw: Sequence[Sequence[float]],
    tolerance: float = 1e-9,
) -> ExplanationProblems:
    """Each explanation is a list of ``(feature index, share)``; ``raw`` the decision's raw
    feature values. Counts what an explanation must never do."""
    zero = out = over = 0
    for listed, values in zip(explanations, raw, strict=True):
        total = 0.0
        for f, share in listed:
            if values[f] == 0.0:
                zero += 1
            if not -tolerance <= share <= 1.0 + tolerance:
                out += 1
            total += share
        if total > 1.0 + tolerance:
            over += 1
    return ExplanationProblems(zero, out, over)


@dataclass(frozen=True)
class ReplayProblems:
    sessions: int
    decisions: int
    requirement_violations: int
    explanation_zero_signal: int
    explanation_share_out_of_range: int
    explanation_sum_over_one: int
    flip_sessions: int

    @property
    def flip_rate(self) -> float:
        return self.flip_sessions / self.sessions if self.sessions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flip_rate": round(self.flip_rate, 4)}


def replay_problems(
    sessions: Sequence[Mapping[str, Sequence[Any]]],
    requirements: Sequence[Sequence[tuple[int, float]]], window: int = 3,
) -> ReplayProblems:
    """Everything counted over replayed sessions. Each session is a mapping with equal-length
    per-decision sequences ``labels`` (class index, -1 undetermined), ``raw`` (raw feature
    values) and ``explanations`` (``(feature index, share)`` lists)."""
    labels = [s["labels"] for s in sessions]
    flat_labels = [label for s in sessions for label in s["labels"]]
    flat_raw = [r for s in sessions for r in s["raw"]]
    flat_expl = [e for s in sessions for e in s["explanations"]]
    expl = count_explanation_problems(flat_expl, flat_raw)
    return ReplayProblems(
        sessions=len(sessions), decisions=len(flat_labels),
        requirement_violations=count_requirement_violations(flat_labels, flat_raw, requirements),
        explanation_zero_signal=expl.zero_signal,
        explanation_share_out_of_range=expl.share_out_of_range,
        explanation_sum_over_one=expl.sum_over_one,
        flip_sessions=count_flips(labels, window),
    )
