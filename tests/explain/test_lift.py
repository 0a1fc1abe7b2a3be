"""The lift statistics: known values, and their false-positive rate and power on seeded runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explain.lift import compare, holm, mde, newcombe, relative, report, sentence, wilson


def _rows(counts: dict[str, tuple[int, int, int, int]]) -> list[dict[str, float]]:
    """{class: (treatment sessions, conversions, holdout sessions, conversions)} -> book rows."""
    out: list[dict[str, float]] = []
    for cls, (nt, xt, nh, xh) in counts.items():
        out.append({"model": "m", "class": cls, "group": "treatment", "sessions": nt,
                    "purchase": xt})
        out.append({"model": "m", "class": cls, "group": "holdout", "sessions": nh,
                    "purchase": xh})
    return out  # type: ignore[return-value]


def test_lift_wilson_matches_the_textbook_value() -> None:
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662.
    lo, hi = wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-4) and hi == pytest.approx(0.3662, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 1.0)


def test_lift_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), example (a): 56/70 vs 48/80 -> 0.2000, 0.0428 to 0.3422 (method 11).
    d, lo, hi = newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert lo == pytest.approx(0.0428, abs=1e-4) and hi == pytest.approx(0.3422, abs=1e-4)


def test_lift_relative_interval_contains_the_ratio_and_needs_conversions() -> None:
    rel = relative(40, 1000, 20, 1000)
    assert rel is not None
    r, lo, hi = rel
    assert r == pytest.approx(1.0) and lo < 1.0 < hi and lo > 0.0
    assert relative(0, 100, 5, 100) is None


def test_lift_mde_shrinks_with_sample_size() -> None:
    assert mde(0.05, 1000, 1000) > mde(0.05, 10_000, 10_000)
    assert mde(0.05, 1000, 1000) == pytest.approx(2.8016 * math.sqrt(0.0475 * 0.002), rel=1e-3)
    assert mde(0.05, 0, 10) == math.inf


def test_lift_holm_rejects_step_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]
    assert holm([0.001, 0.02, 0.04]) == [True, True, True]
    assert holm([0.2]) == [False]


def test_lift_sentence_reads_like_the_issue() -> None:
    row = compare("comparison-shopper", {"sessions": 2000, "purchase": 82},
                  {"sessions": 500, "purchase": 16})
    text = sentence(row)
    assert text.startswith("comparison-shopper: 4.1 % vs 3.2 %, +28 % (")
    assert "not yet significant" in text
    assert "\u2212" in text  # the lower bound is negative, printed with a real minus sign


def test_lift_report_flags_a_large_effect_and_orders_by_sessions() -> None:
    out = report(_rows({"a": (5000, 500, 5000, 250), "b": (100, 5, 100, 4)}))
    assert [r["class"] for r in out] == ["a", "b"]
    assert out[0]["significant"] and "significant" in out[0]["sentence"]
    assert not out[1]["significant"]
    assert out[0]["mde_relative"] is not None and out[0]["mde_relative"] < 0.5


def test_lift_report_lists_a_class_without_holdout_sessions() -> None:
    out = report([{"model": "m", "class": "x", "group": "treatment", "sessions": 5,
                   "purchase": 1}])
    assert out[0]["comparable"] is False and out[0]["sentence"] == "x: no sessions in holdout yet"


_RATES = (0.02, 0.04, 0.08, 0.15, 0.3)


def _simulate(rng: np.random.Generator, effect_class: int | None, n: int = 3000,
              share: float = 0.1) -> list[dict[str, object]]:
    out = []
    for i, p in enumerate(_RATES):
        nh = int(rng.binomial(n, share))
        nt = n - nh
        pt = min(2 * p, 1.0) if i == effect_class else p
        out.append(compare(f"c{i}", {"sessions": nt, "purchase": int(rng.binomial(nt, pt))},
                           {"sessions": nh, "purchase": int(rng.binomial(nh, p))}))
    return out


def test_lift_false_positive_rate_with_no_effect_is_at_most_five_percent() -> None:
    runs = 2000
    per_class_excluding_zero = 0
    comparisons = 0
    runs_with_a_significant_class = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        nt_rows = _simulate(rng, None)
        for r in nt_rows:
            lo, hi = r["absolute"]["interval"]  # type: ignore[index]
            per_class_excluding_zero += lo > 0 or hi < 0
            comparisons += 1
        rng2 = np.random.default_rng(10_000 + seed)
        flagged = report([row for i, p in enumerate(_RATES) for row in _group_rows(rng2, i, p)])
        runs_with_a_significant_class += any(r["significant"] for r in flagged)
    # The per-class 95 % interval excludes zero in at most 5 % of null comparisons ...
    assert per_class_excluding_zero / comparisons <= 0.05
    # ... and with Holm's correction, at most 5 % of null experiments flag any class at all.
    assert runs_with_a_significant_class / runs <= 0.05


def _group_rows(rng: np.random.Generator, i: int, p: float, n: int = 3000,
                share: float = 0.1) -> list[dict[str, object]]:
    nh = int(rng.binomial(n, share))
    nt = n - nh
    return [{"model": "m", "class": f"c{i}", "group": "treatment", "sessions": nt,
             "purchase": int(rng.binomial(nt, p))},
            {"model": "m", "class": f"c{i}", "group": "holdout", "sessions": nh,
             "purchase": int(rng.binomial(nh, p))}]


def test_lift_finds_a_doubled_rate_in_most_seeded_runs() -> None:
    found = 0
    others = 0
    runs = 300
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        rows = []
        for i, p in enumerate(_RATES):
            nh = int(rng.binomial(3000, 0.1))
            nt = 3000 - nh
            pt = 2 * p if i == 3 else p
            rows += [{"model": "m", "class": f"c{i}", "group": "treatment", "sessions": nt,
                      "purchase": int(rng.binomial(nt, pt))},
                     {"model": "m", "class": f"c{i}", "group": "holdout", "sessions": nh,
                      "purchase": int(rng.binomial(nh, p))}]
        out = {r["class"]: r for r in report(rows)}
        found += out["c3"]["significant"]
        others += sum(out[f"c{i}"]["significant"] for i in (0, 1, 2, 4))
    assert found / runs >= 0.9  # 15 % -> 30 % with 300 holdout sessions: high power
    assert others / (4 * runs) <= 0.05
