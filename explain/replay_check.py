"""Replay real sessions event by event, as the proxy sees them, and count what is wrong.

Each session's events go through the same state, features and kernel (with the hysteresis
memory) as a request does; every decision is recorded: class given, confidence, raw values, the
``X-Intent-Signals`` list. ``check`` then reports, per dataset, the counts of
``classifiers.stability`` (requirement violations, explanation entries naming a signal at 0 or
with a share outside 0..1, A → B → A flips), the share of ``undetermined`` on the state before
each session's first purchase or checkout, purchase rate by class, and how often a class given
at confidence ≥ 0.5 is kept at the session's next decision (the confidence the proxy gives,
scaled by each class's measured persistence: ``classifiers.kernels.calibrated``).

    python -m explain.replay_check [DATA_DIR] [--model FILE] [--switch-margin M]

prints one block per dataset of ``DATA_DIR`` (default ``../shared/data`` beside the checkout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from classifiers.artifact import UNDETERMINED, Model, load_model
from classifiers.kernels import MIN_EVENTS, Scorer
from classifiers.stability import ReplayProblems, replay_problems
from explain.headers import top_signals
from signals.events import EventKind, ShopperEvent
from signals.features import FeatureExtractor, raw_value
from signals.importers import IMPORTERS, Counts
from signals.records import record_to_event
from signals.state import SessionState

# Folder -> (importer, files) for the datasets in ../shared/data (see each folder's README).
DATASETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ga-merchstore-all-sessions": ("ga", ("all_sessions.csv",)),
    "taobao-userbehavior-hotitems-sample": ("taobao", ("UserBehavior.csv",)),
    "taobao-userbehavior-flink-2h-slice": ("taobao", ("UserBehavior.csv",)),
    "otto-recsys-test-sample": ("otto", ("train.jsonl",)),
    "rees46-multicategory-2019oct-head": ("rees46", ("2019-Oct-sample.csv",)),
    "diginetica-cikm2016-srgnn-sample": ("diginetica", ("sample_train-item-views.csv",)),
    "yoochoose-rsc15-clicks-100k": (
        "yoochoose", ("yoochoose-clicks-100k_train_full.txt", "yoochoose-clicks-100k_test.txt")),
}
_OUTCOMES = frozenset({EventKind.PURCHASE, EventKind.CHECKOUT_STEP})


@dataclass
class Trace:
    """One session's decisions, one per event (the proxy decides at every request)."""

    labels: list[int] = field(default_factory=list)  # class index, -1 undetermined
    confidence: list[float] = field(default_factory=list)
    raw: list[list[float]] = field(default_factory=list)
    explanations: list[list[tuple[int, float]]] = field(default_factory=list)
    before_outcome: int = -1  # the label at the last event before the first purchase/checkout
    reached_min_events: bool = False
    purchased: bool = False


def trace(
    model: Model, scorer: Scorer, events: Sequence[ShopperEvent], *, top_n: int = 3,
) -> Trace:
    """Replay one session's events (any order; sorted by time here) through state, features
    and ``scorer``'s rule (``Scorer.label``, its ``min_events``) with the hysteresis memory of
    one session."""
    extractor = FeatureExtractor(model.feature_names, model.transforms)
    x = extractor.vector(SessionState(), 0.0)
    state = SessionState()
    out = Trace()
    prev = -1
    outcome_seen = False
    for ev in sorted(events, key=lambda e: e.ts):
        if ev.kind in _OUTCOMES:
            outcome_seen = True
        if ev.kind == EventKind.PURCHASE:
            out.purchased = True
        state.apply(ev)
        now = ev.ts
        extractor.extract(state, now, x)
        label, _, conf, _ = scorer.label(state.events_seen, x, prev)
        prev = label
        listed = top_signals(scorer.evidence, top_n) if label >= 0 else []
        out.labels.append(label)
        out.confidence.append(conf)
        out.raw.append([raw_value(state, n, now) for n in model.feature_names])
        out.explanations.append(listed)
        if not outcome_seen:
            out.before_outcome = label
            out.reached_min_events = scorer.scores(state.events_seen)
    return out


def load_sessions(
    folder: Path, importer: str, files: Iterable[str]
) -> dict[str, list[ShopperEvent]]:
    """A dataset's sessions through its importer (the same records ``intentgate import``
    writes)."""
    sessions: dict[str, list[ShopperEvent]] = {}
    for name in files:
        counts = Counts()
        with (folder / name).open(newline="", encoding="utf-8") as fh:
            for rec in IMPORTERS[importer](fh, counts):
                key, ev = record_to_event(rec)
                sessions.setdefault(key, []).append(ev)
    return sessions


@dataclass
class DatasetReport:
    name: str
    problems: ReplayProblems
    reached: int  # sessions that reached min_events before their first purchase/checkout
    undetermined: int  # of those, undetermined at that point
    purchase_rate: dict[str, tuple[int, int]]  # class -> (sessions, purchasing sessions)
    kept: tuple[int, int]  # decisions at confidence >= 0.5 with a next decision: (kept, all)
    scored_sessions: int  # sessions with at least 3 scored decisions (could flip at all)

    def lines(self) -> list[str]:
        p = self.problems
        und = self.undetermined / self.reached if self.reached else 0.0
        kept, total = self.kept
        rates = {c: (b / n if n else 0.0) for c, (n, b) in self.purchase_rate.items()}
        top = max(rates, key=lambda c: rates[c]) if rates else "-"
        out = [
            f"{self.name}: {p.sessions} sessions, {p.decisions} decisions",
            f"  requirement violations {p.requirement_violations}; explanation entries at 0 "
            f"{p.explanation_zero_signal}, shares outside 0..1 "
            f"{p.explanation_share_out_of_range}, lists over 1 {p.explanation_sum_over_one}",
            f"  A->B->A flips within 3 events: {p.flip_sessions} sessions = "
            f"{100 * p.flip_rate:.2f} % of all, "
            f"{100 * p.flip_sessions / max(self.scored_sessions, 1):.2f} % of the "
            f"{self.scored_sessions} with >= 3 scored decisions",
            f"  undetermined before outcome: {self.undetermined}/{self.reached} = "
            f"{100 * und:.2f} % of sessions that reached min_events",
            f"  confidence >= 0.5 kept at the next decision: {kept}/{total} = "
            f"{100 * kept / max(total, 1):.1f} %",
            f"  highest purchase rate: {top}"
            + (" (UNDETERMINED IS HIGHEST)" if top == UNDETERMINED and len(rates) > 1 else ""),
        ]
        for c in sorted(rates, key=lambda c: -self.purchase_rate[c][0]):
            n, b = self.purchase_rate[c]
            out.append(f"    {c:28s} {n:7d} sessions  bought {b:5d} ({100 * rates[c]:.1f} %)")
        return out


def check(
    name: str, model: Model, sessions: dict[str, list[ShopperEvent]], *, switch_margin: float,
    min_events: int = MIN_EVENTS,
) -> DatasetReport:
    scorer = Scorer(model, switch_margin, min_events=min_events)
    traces = [trace(model, scorer, sessions[k]) for k in sorted(sessions)]
    index = {n: i for i, n in enumerate(model.feature_names)}
    reqs = [[(index[s], m) for s, m in r] for r in model.requirements] or [[] for _ in model.slugs]
    problems = replay_problems(
        [{"labels": t.labels, "raw": t.raw, "explanations": t.explanations} for t in traces],
        reqs)
    reached = [t for t in traces if t.reached_min_events]
    rate: dict[str, tuple[int, int]] = {}
    for t in reached:
        c = scorer.slug(t.before_outcome)
        n, b = rate.get(c, (0, 0))
        rate[c] = (n + 1, b + int(t.purchased))
    kept = total = 0
    for t in traces:
        for i in range(len(t.labels) - 1):
            if t.labels[i] >= 0 and t.confidence[i] >= 0.5:
                total += 1
                kept += t.labels[i + 1] == t.labels[i]
    scored = sum(1 for t in traces if sum(1 for lab in t.labels if lab >= 0) >= 3)
    return DatasetReport(name, problems, len(reached),
                         sum(1 for t in reached if t.before_outcome < 0), rate, (kept, total),
                         scored)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explain.replay_check", description=__doc__)
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("data_dir", nargs="?", default=str(root.parent / "shared" / "data"))
    ap.add_argument("--model", default=str(root / "classifiers" / "bundled" / "model.json"))
    ap.add_argument("--switch-margin", type=float, default=0.25)
    ap.add_argument("--min-events", type=int, default=MIN_EVENTS)
    ap.add_argument("--only", action="append", default=[], help="dataset folder (repeatable)")
    args = ap.parse_args(argv)
    try:
        model = load_model(Path(args.model).read_bytes())
    except (OSError, ValueError) as exc:
        print(f"replay_check: cannot load model: {exc}", file=sys.stderr)
        return 2
    data = Path(args.data_dir)
    print(f"model {model.version}, class_switch_margin {args.switch_margin}, "
          f"min_events {args.min_events}")
    for name, (importer, files) in DATASETS.items():
        if args.only and name not in args.only:
            continue
        if not (data / name).is_dir():
            continue
        sessions = load_sessions(data / name, importer, files)
        report = check(name, model, sessions, switch_margin=args.switch_margin,
                       min_events=args.min_events)
        print("\n".join(report.lines()), flush=True)
    return 0




if __name__ == "__main__":
    raise SystemExit(main())
