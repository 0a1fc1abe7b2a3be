"""The offline commands: ``import``, ``fit``, ``evaluate``, ``lodo`` and ``fit-bundled``.

They join signals (records -> sessions -> the same features the proxy computes) and classifiers
(matrix -> model); scikit-learn is imported here, inside the commands, never by ``serve``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import orjson

from proxy.commands.parse import EXIT_USAGE, Parser
from signals.events import EventKind, ShopperEvent
from signals.features import DEFAULT_FEATURES, FeatureExtractor
from signals.importers import IMPORTERS, MISSING, Counts
from signals.records import dumps, parse_line, record_to_event
from signals.replay import StateRows, group, replay, replay_states
from signals.state import DEFAULT_CONFIG, StateConfig

ROOT = Path(__file__).resolve().parents[2]  # the source tree: proxy/commands/offline.py
SHARED_DATA = ROOT.parent / "shared" / "data"
BUNDLED_PATH = ROOT / "classifiers" / "bundled" / "model.json"
# The bundled model's created_at is fixed so `make model` rebuilds it byte for byte.
BUNDLED_CREATED_AT = "2026-11-22T00:00:00Z"
# Every dataset folder of ../shared/data the offline commands know, with its importer.
BUNDLED_SOURCES = (
    ("taobao", "taobao-userbehavior-flink-2h-slice/UserBehavior.csv"),
    ("taobao", "taobao-userbehavior-hotitems-sample/UserBehavior.csv"),
    ("yoochoose", "yoochoose-rsc15-clicks-100k/yoochoose-clicks-100k_train_full.txt"),
    ("diginetica", "diginetica-cikm2016-srgnn-sample/sample_train-item-views.csv"),
    ("rees46", "rees46-multicategory-2019oct-head/2019-Oct-sample.csv"),
    ("otto", "otto-recsys-test-sample/train.jsonl"),
    ("ga", "ga-merchstore-all-sessions/all_sessions.csv"),
)
# Left out of the bundled model (still in `lodo`): its README says the course file is thinned
# by row, so its session lengths, dwell gaps and view->buy paths are decimated; live sessions
# do not look like that. The lodo fold that holds it out is therefore the bundled model itself.
BUNDLED_EXCLUDE = ("taobao-userbehavior-flink-2h-slice",)
EARLY = (3, 5, 10)  # the early-session report: state after a session's first n events
LODO_MIN_BUYERS = 300  # held-out datasets with this many buying sessions carry the targets
LODO_TOP, LODO_BOTTOM = 1.6, 0.3
LODO_MIN_CLASS = 30  # top/bottom: classes with >= 1 % of the sessions and at least this many
FIT_INSTALL = ("scikit-learn is not installed, and fitting needs it: "
               "pip install 'intentgate[fit]' (or pip install scikit-learn)")


class UsageError(Exception):
    pass


class _Skipped:
    """Malformed input lines: how many, and where the first few are (``file:line``)."""

    __slots__ = ("count", "first")
    SHOWN = 3

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def add(self, where: str) -> None:
        self.count += 1
        if len(self.first) < self.SHOWN:
            self.first.append(where)

    def __str__(self) -> str:
        more = ", ..." if self.count > len(self.first) else ""
        return (f"{self.count} malformed line{'s' if self.count != 1 else ''} skipped "
                f"(first: {', '.join(self.first)}{more})")


def _open_text(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such file: {path}")
    raw: IO[bytes] = p.open("rb")
    head = raw.read(2)
    raw.seek(0)
    if head == b"\x1f\x8b":
        raw = gzip.open(raw)  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _progress(lines: Iterable[str], label: str) -> Iterator[str]:
    """Pass lines through, printing a line count on a terminal every 100k lines."""
    tty = sys.stderr.isatty()
    n = 0
    for line in lines:
        n += 1
        if tty and n % 100_000 == 0:
            print(f"\r{label}: {n:,} lines", end="", file=sys.stderr, flush=True)
        yield line
    if tty and n >= 100_000:
        print(file=sys.stderr)


def _read_events(paths: list[str], skipped: _Skipped) -> Iterator[tuple[str, ShopperEvent]]:
    for path in paths:
        with _open_text(path) as fh:
            for n, line in enumerate(_progress(fh, path), 1):
                if not line.strip():
                    continue
                try:
                    yield parse_line(line)
                except ValueError:
                    skipped.add(f"{path}:{n}")


def _routes(preset: str | None, config: str | None) -> tuple[Any, str]:
    """The route table ``serve`` builds from ``--config`` and ``--preset`` (a flag beats the
    file, as for ``serve``), and words naming it for the report."""
    from proxy.config import ConfigError, load_settings
    from signals.errors import RuleError
    from signals.routes import RouteTable

    if preset is not None and preset.endswith(".toml"):
        raise UsageError(f"--preset takes a preset name; for the rules file use --config {preset}")
    try:
        settings = load_settings(config_file=config, overrides={"preset": preset})
        routes = RouteTable.from_config(settings.preset, settings.rules)
    except (ConfigError, RuleError) as exc:
        raise UsageError(str(exc)) from None
    label = f"preset {settings.preset!r}"
    if config is not None:
        label = f"the {len(settings.rules)} rules of {config} and {label}"
    return routes, label


def _access_log_records(paths: list[str], preset: str | None, notes: list[str],
                        config: str | None = None) -> Iterator[dict[str, Any]]:
    import secrets

    from signals.accesslog import AccessLogCounts, nothing_parsed, replay_log
    from signals.bots import BotGate
    from signals.identity import IdentityCodec

    routes, label = _routes(preset, config)
    codec = IdentityCodec(secrets.token_bytes(32))  # session keys never leave this run
    bots = BotGate()
    counts = AccessLogCounts()
    for path in paths:
        one = AccessLogCounts()
        with _open_text(path) as fh:
            yield from replay_log(_progress(fh, path), routes, one, pseudonym=codec.pseudonym,
                                  is_bot=lambda a: bots.verdict(a.encode(), True, True)
                                  is not None)
        msg = nothing_parsed(one, path)
        if msg is not None:
            raise UsageError(msg)
        counts.add(one)
    notes.append(f"access logs replayed through {label}: {counts.lines} lines, "
                 f"{counts.events} events, {counts.malformed} malformed lines skipped, "
                 f"{counts.errors} 4xx/5xx, {counts.redirects} redirected page views, "
                 f"{counts.bots} bot lines")
    if counts.untimed:
        notes.append(f"{counts.untimed} lines had no time stamp (uvicorn's default format): "
                     "one second each, in file order")
    if counts.approximated:
        notes.append(f"{counts.approximated} events had no session field: visits approximated "
                     "by client address + user agent with a 30-minute gap")


def _load_model_file(path: str) -> Any:
    from classifiers.artifact import load_model
    from classifiers.errors import ArtifactError

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such model file: {path}")
    try:
        return load_model(p.read_bytes())
    except ArtifactError as exc:
        raise UsageError(f"{path} is not an intentgate model: {exc}") from None


def _read_access_logs(paths: list[str], preset: str | None, notes: list[str],
                      config: str | None = None) -> Iterator[tuple[str, ShopperEvent]]:
    for rec in _access_log_records(paths, preset, notes, config):
        yield record_to_event(rec)


def _extractor(features: str | None = None) -> FeatureExtractor:
    known = dict(DEFAULT_FEATURES)
    if features is None:
        names = [n for n, _ in DEFAULT_FEATURES]
    else:
        names = [f.strip() for f in features.split(",") if f.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names or len(set(names)) != len(names):
            raise UsageError(f"--features: unknown or repeated signals {', '.join(unknown)} "
                             f"(known: {', '.join(known)})")
    return FeatureExtractor(names, [known[n] for n in names])


def _add_input_args(ap: Parser) -> None:
    ap.add_argument("--input", choices=("events", "access-log"), default="events",
                    help="event JSONL (default) or nginx/Apache combined access logs")
    ap.add_argument("--preset", default=None,
                    help="route preset to replay access logs with (default: the config's, "
                         "or auto)")
    ap.add_argument("--config", default=None,
                    help="the shop's config file (rules, preset), as for serve (default: none)")
    ap.add_argument("--half-life", type=float, default=None,
                    help="seconds for a signal to decay by half, as serve's half_life "
                         "(default: the config's, or 600)")


def _read_sessions(args: argparse.Namespace, notes: list[str]) -> dict[str, list[ShopperEvent]]:
    skipped = _Skipped()
    if args.input == "access-log":
        sessions = group(_read_access_logs(args.events, args.preset, notes, args.config))
    else:
        sessions = group(_read_events(args.events, skipped))
    if not sessions:
        raise UsageError("no valid events in the input"
                         + (f": {skipped}" if skipped.count else ""))
    if skipped.count:
        notes.append(f"{skipped.count} malformed lines skipped")
        print(f"intentgate {args.prog_name}: {skipped}", file=sys.stderr)
    return sessions


def _state_config(args: argparse.Namespace) -> StateConfig:
    half_life = args.half_life
    if half_life is None and args.config is not None:
        from proxy.config import ConfigError, load_settings

        try:
            half_life = load_settings(config_file=args.config, environ={}).half_life
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    if half_life is not None and not half_life > 0:
        raise UsageError("--half-life must be > 0")
    return StateConfig(half_life=half_life) if half_life else DEFAULT_CONFIG


# -- import ------------------------------------------------------------------------------


def cmd_import(argv: list[str]) -> int:
    ap = Parser(prog="intentgate import", description="Convert a real dataset, or a shop's "
                "access log, into event JSONL (the input of `intentgate fit`).")
    ap.add_argument("--format", required=True, choices=sorted([*IMPORTERS, "access-log"]),
                    help="the dataset's format (required)")
    ap.add_argument("file", help="the dataset file (gzip ok; - reads standard input)")
    ap.add_argument("--out", default="-", help="event JSONL to write; - is standard output")
    ap.add_argument("--config", default=None,
                    help="access-log: the shop's config file (rules, preset), as for serve "
                         "(default: none)")
    ap.add_argument("--preset", default=None,
                    help="access-log: route preset (default: the config's, or auto)")
    args = ap.parse_args(argv)
    counts = Counts()
    if args.format == "access-log":
        notes: list[str] = []
        records = list(_access_log_records([args.file], args.preset, notes, args.config))
        with (sys.stdout.buffer if args.out == "-" else open(args.out, "wb")) as sink:
            for rec in records:
                sink.write(dumps(rec))
        for note in notes:
            print(f"access-log: {note}", file=sys.stderr)
        return 0
    out: IO[bytes] = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")  # noqa: SIM115
    try:
        with _open_text(args.file) as fh:
            for rec in IMPORTERS[args.format](_progress(fh, args.file), counts):
                out.write(dumps(rec))
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f"{args.format}: {counts.lines} lines, {counts.events} events, "
          f"{counts.skipped} malformed lines skipped; lacks: {', '.join(MISSING[args.format])}",
          file=sys.stderr)
    return 0


# -- fit ---------------------------------------------------------------------------------


def _labels(path: str | None) -> dict[str, dict[str, str]] | None:
    if path is None:
        return None
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read labels {path}: {exc}") from None
    out: dict[str, dict[str, str]] = {}
    for slug, value in data.items():
        if isinstance(value, str):
            out[slug] = {"display_name": value}
        elif isinstance(value, dict):
            out[slug] = {k: str(v) for k, v in value.items()}
        else:
            raise UsageError(f"labels: {slug!r} must be a string or a table")
    return out


def _fit(rows: StateRows, ex: FeatureExtractor, *, min_k: int, max_k: int, k: int | None,
         algorithm: Literal["kmeans", "dbscan"], seed: int, created_at: str,
         data_source: str, notes: list[str], labels: Any, missing: tuple[str, ...],
         use_purchases: bool = True) -> Any:
    import warnings

    from classifiers.errors import FitWarning
    from classifiers.fit import SegmentFitter

    fitter = SegmentFitter(min_k=min_k, max_k=max_k, k=k, random_state=seed,
                           algorithm=algorithm)
    with warnings.catch_warnings():
        # Degenerate-fit warnings are kept in the report and printed with the cards.
        warnings.simplefilter("ignore", FitWarning)
        fitter.fit(rows.X, rows.purchased if use_purchases else None, feature_names=ex.names,
                   transforms=ex.transforms, sample_weight=rows.weight)
    return fitter, fitter.to_artifact(created_at, data_source, notes, labels,
                                      missing_signals=missing)


def _finish_own(fitter: Any, data: bytes, rows: StateRows, labels: Any) -> bytes:
    """An own fit's sealed bytes: an archetype class for each signal its sessions show but no
    fitted class rests on (``classifiers.archetypes.add_shown``), then ``labels`` (which may
    rename the archetypes too), then each class's persistence measured on ``rows``."""
    from classifiers.archetypes import add_shown
    from classifiers.artifact import load_model, seal
    from classifiers.naming import relabel
    from classifiers.persistence import measured

    population = dict(zip(fitter.feature_names_, fitter.population_raw_.tolist(), strict=True))
    artifact = add_shown(load_model(data).artifact, rows.X, rows.session, population=population)
    return measured(seal(relabel(artifact, labels).model_dump(mode="json")), rows.X,
                    rows.session)


def _final_rows(sessions: dict[str, list[ShopperEvent]], ex: FeatureExtractor,
                config: StateConfig) -> StateRows:
    """One row per session (its state before any purchase or checkout), weight 1."""
    rep = replay(sessions, ex, config, before_outcome=True)
    n = rep.X.shape[0]
    return StateRows(rep.X, np.ones(n), rep.purchased, np.arange(n, dtype=np.int64), rep.keys)


def _print_cards(model_bytes: bytes) -> None:
    content = orjson.loads(model_bytes)
    print(f"model {content['version']}: {len(content['classes'])} classes "
          f"({content['report']['algorithm']}, {content['report']['rows']} sessions)")
    for s in content["report"].get("silhouette_by_k", []):
        line = f"  k={s['k']}: silhouette {s['silhouette']:.3f}"
        if s.get("stability") is not None:
            line += (f", stability {s['stability']:.2f}, smallest class "
                     f"{s['smallest_share']:.1%}")
        if s.get("separation") is not None:
            rates = " ".join(f"{r:.1%}" for r in s.get("purchase_rates", []))
            line += f", purchase separation {s['separation']:.3f} (rates {rates})"
        print(line)
    if content["report"].get("k_rule"):
        print(f"  {content['report']['k_rule']}")
    for card in content["classes"]:
        print(f"\n[{card['slug']}] {card['display_name']} — {card['size']} sessions "
              f"({card['percentage']:.1f} %)")
        print(f"  {card['description']}")
        if card.get("persistence") is not None:
            print(f"  kept at the next request in {card['persistence']:.0%} of its training "
                  "states")
        if card.get("requires"):
            print("  requires: " + ", ".join(f"{r['signal']} ≥ {r['min']:g}"
                                             for r in card["requires"]))
        for ch in card["characteristics"][:4]:
            print(f"  · {ch['signal']}: {ch['value']:.2f} vs {ch['population_value']:.2f} "
                  f"(z {ch['z']:+.2f})")
        for rule in card["rules"][:2]:
            print(f"  rule: {rule['text']} (fidelity {rule['fidelity']:.2f})")
        print(f"  use: {card['suggested_use']}")
    for w in content["report"].get("warnings", []) + content["report"].get("notes", []):
        print(f"note: {w}")


def _write_model(out: Path, data: bytes) -> None:
    from classifiers.artifact import load_model
    from classifiers.report import render_report

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    out.with_suffix(".html").write_text(render_report(load_model(data)))


def cmd_fit(argv: list[str]) -> int:
    ap = Parser(prog="intentgate fit", description="Fit a model from recorded events "
                "(serve --record-events) or access logs; writes the model and an HTML report.")
    ap.add_argument("events", nargs="+", help="event JSONL files or access logs (gzip ok)")
    ap.add_argument("--out", required=True, metavar="FILE",
                    help="model JSON to write; the report goes beside it as .html (required)")
    ap.add_argument("--min-k", type=int, default=2, help="fewest classes to try")
    ap.add_argument("--max-k", type=int, default=8, help="most classes to try")
    ap.add_argument("--k", type=int, default=None,
                    help="force this k, still measured and reported (default: chosen by the "
                         "k rule)")
    ap.add_argument("--features", default=None,
                    help="comma-separated signals to cluster on (default: all)")
    ap.add_argument("--rows", choices=("every-request", "final"), default="every-request",
                    help="fit on the state at every request, each session weighted once "
                         "(default), or on each session's final state")
    ap.add_argument("--algorithm", choices=("kmeans", "dbscan"), default="kmeans",
                    help="clustering algorithm")
    ap.add_argument("--labels", metavar="FILE",
                    help="TOML: slug = \"Display name\" or a table (default: names chosen "
                    "from each class's signals)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same seed, same model)")
    ap.add_argument("--created-at", help="ISO time stamped in the model (default: last event)")
    _add_input_args(ap)
    args = ap.parse_args(argv)
    args.prog_name = "fit"
    if not 2 <= args.min_k <= args.max_k <= 20:
        raise UsageError("need 2 <= --min-k <= --max-k <= 20")
    if args.k is not None and not 2 <= args.k <= 20:
        raise UsageError("need 2 <= --k <= 20")
    _need_sklearn()
    labels = _labels(args.labels)
    notes: list[str] = []
    ex = _extractor(args.features)
    sessions = _read_sessions(args, notes)
    config = _state_config(args)
    rows = (replay_states(sessions, ex, config) if args.rows == "every-request"
            else _final_rows(sessions, ex, config))
    if len(rows.keys) < 2:
        raise UsageError(f"only {len(rows.keys)} session(s): too little data to fit")
    notes.append(f"fitted on {len(rows.keys)} sessions' states "
                 + ("at every request before any purchase or checkout, each session weighted "
                    f"once ({rows.X.shape[0]} rows)" if args.rows == "every-request"
                    else "before any purchase or checkout"))
    last = max(e.ts for evs in sessions.values() for e in evs)
    created = args.created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last))
    try:
        fitter, data = _fit(rows, ex, min_k=args.min_k, max_k=args.max_k, k=args.k,
                            algorithm=args.algorithm, seed=args.seed, created_at=created,
                            notes=notes, data_source=", ".join(Path(p).name for p in args.events),
                            labels=None, missing=())
        data = _finish_own(fitter, data, rows, labels)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _write_model(Path(args.out), data)
    _print_cards(data)
    print(f"\nwrote {args.out} and {Path(args.out).with_suffix('.html')}")
    return 0


def _need_sklearn() -> None:
    import importlib.util

    try:
        found = importlib.util.find_spec("sklearn") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UsageError(FIT_INSTALL)


# -- evaluate ----------------------------------------------------------------------------


def _by_start(sessions: dict[str, list[ShopperEvent]], keys: list[str]) -> np.ndarray:
    """Row order by session start (then key): the stability halves compare periods."""
    starts = [min(e.ts for e in sessions[k]) for k in keys]
    return np.array(sorted(range(len(keys)), key=lambda i: (starts[i], keys[i])),
                    dtype=np.int64)


def evaluate_sessions(model: Any, sessions: dict[str, list[ShopperEvent]],
                      config: StateConfig = DEFAULT_CONFIG, *, min_events: int = 1,
                      early: tuple[int, ...] = EARLY) -> tuple[Any, Any, dict[int, Any]]:
    """The whole evaluation of ``model`` on ``sessions``: (Replay, Evaluation, early reports).

    The main report classifies each session from its events before its first purchase or
    checkout; ``early[n]`` from its first n events (sessions with fewer are left out)."""
    from classifiers.evaluate import evaluate

    ex = FeatureExtractor(model.feature_names, model.transforms)
    rep = replay(sessions, ex, config, before_outcome=True)
    if rep.X.shape[0] == 0:
        raise UsageError("no session has events before its first purchase")
    order = _by_start(sessions, rep.keys)
    ev = evaluate(model, rep.X[order], rep.purchased[order], n_events=rep.n_events[order],
                  min_events=min_events)
    by_n = {}
    for n in early:
        part = replay(sessions, ex, config, before_outcome=True, min_events=n, max_events=n)
        if part.X.shape[0] == 0:
            continue
        o = _by_start(sessions, part.keys)
        by_n[n] = evaluate(model, part.X[o], part.purchased[o])
    return rep, ev, by_n


def cmd_evaluate(argv: list[str]) -> int:
    from classifiers.evaluate import format_early, format_table

    ap = Parser(prog="intentgate evaluate", description="Purchase rate by class for a model, "
                "from the events before each session's first purchase, and after each "
                "session's first 3, 5 and 10 events.")
    ap.add_argument("model", help="model JSON (from intentgate fit)")
    ap.add_argument("events", nargs="+", help="event JSONL files or access logs (gzip ok)")
    ap.add_argument("--label", choices=("purchase",), default="purchase",
                    help="the outcome measured")
    ap.add_argument("--min-events", type=int, default=1,
                    help="leave out sessions with fewer events before the outcome")
    _add_input_args(ap)
    args = ap.parse_args(argv)
    args.prog_name = "evaluate"
    model = _load_model_file(args.model)
    notes: list[str] = []
    sessions = _read_sessions(args, notes)
    rep, ev, by_n = evaluate_sessions(model, sessions, _state_config(args),
                                      min_events=args.min_events)
    for note in notes:
        print(f"note: {note}")
    print(f"{rep.X.shape[0]} sessions classified from the events before their first purchase "
          f"or checkout ({rep.skipped_empty} had none and are left out)")
    print(format_table(ev))
    print("\nearly sessions: the class after each session's first 3, 5 and 10 events "
          "(before any purchase or checkout)")
    print(format_early(by_n))
    return 0


# -- the bundled model -------------------------------------------------------------------


def load_dataset(data_dir: Path, fmt: str, rel: str) -> tuple[dict[str, list[ShopperEvent]],
                                                              Counts]:
    """One dataset's sessions, keys prefixed with its folder (two Taobao files share ids)."""
    path = data_dir / rel
    counts = Counts()
    prefix = path.parent.name + "/"
    with path.open(newline="", encoding="utf-8") as fh:
        sessions = group((prefix + key, ev) for key, ev in
                         (record_to_event(r) for r in IMPORTERS[fmt](fh, counts)))
    return sessions, counts


def datasets_in(data_dir: Path) -> list[tuple[str, str, str]]:
    """(folder, format, relative path) of each known dataset present under ``data_dir``."""
    return [(rel.split("/")[0], fmt, rel) for fmt, rel in BUNDLED_SOURCES
            if (data_dir / rel).is_file()]


def bundled_rows(data_dir: Path, exclude: tuple[str, ...] = BUNDLED_EXCLUDE,
                 loaded: dict[str, Any] | None = None) -> tuple[StateRows, list[str],
                                                                 tuple[str, ...]]:
    """The bundled model's training rows: the state at every request of every session of the
    datasets (but those in ``exclude``), each session weighted once."""
    sessions: dict[str, list[ShopperEvent]] = {}
    sources = []
    missing: set[str] | None = None
    for folder, fmt, rel in datasets_in(data_dir):
        if folder in exclude:
            continue
        got = loaded.get(folder) if loaded is not None else None
        part, counts = got if got is not None else load_dataset(data_dir, fmt, rel)
        sessions.update(part)
        sources.append(f"{fmt} ({folder}: {counts.events} events)")
        missing = set(MISSING[fmt]) if missing is None else missing & set(MISSING[fmt])
    if not sessions:
        raise UsageError(f"no known dataset under {data_dir}")
    return replay_states(sessions, _extractor()), sources, tuple(sorted(missing or ()))


def build_bundled(data_dir: Path = SHARED_DATA, exclude: tuple[str, ...] = BUNDLED_EXCLUDE,
                  loaded: dict[str, Any] | None = None) -> bytes:
    from classifiers import bundled, load_model

    if not data_dir.is_dir():
        raise UsageError(f"real datasets not found at {data_dir}")
    _need_sklearn()
    rows, sources, missing = bundled_rows(data_dir, exclude, loaded)
    left_out = [f for f in exclude if any(f == d for d, _, _ in datasets_in(data_dir))]
    note = ("Fitted by `make model` from the real datasets in ../shared/data"
            + (f" but {', '.join(left_out)}" if left_out else ""))
    fitter, data = _fit(rows, _extractor(), min_k=2, max_k=10, k=None, algorithm="kmeans",
                        seed=0, created_at=BUNDLED_CREATED_AT, data_source="; ".join(sources),
                        notes=[note + f": the state at every request of {len(rows.keys)} "
                               "sessions before any purchase or checkout, each session "
                               "weighted once. k chosen without purchase labels: several "
                               "datasets have none, so pooled labels would measure which "
                               "dataset a session came from, not how it shopped.",
                               bundled.card_note(missing)],
                        labels=None, missing=missing, use_purchases=False)
    return bundled.finish(load_model(data).artifact, rows.X, fitter.labels_, rows.session)


def cmd_fit_bundled(argv: list[str]) -> int:
    ap = Parser(prog="intentgate fit-bundled",
                description="Rebuild the bundled model from the real datasets (make model).")
    ap.add_argument("--data-dir", default=str(SHARED_DATA), help="where the datasets are")
    ap.add_argument("--out", default=str(BUNDLED_PATH), help="model JSON to write")
    args = ap.parse_args(argv)
    data = build_bundled(Path(args.data_dir))
    _write_model(Path(args.out), data)
    _print_cards(data)
    print(f"\nwrote {args.out}")
    return 0


# -- leave one dataset out ----------------------------------------------------------------


def cmd_lodo(argv: list[str]) -> int:
    """Fit the bundled way on every dataset but one, evaluate on that one, in turn."""
    from classifiers.artifact import load_model
    from classifiers.evaluate import format_early, format_table

    ap = Parser(prog="intentgate lodo", description="Leave one dataset out: fit the bundled "
                "way on every dataset but one, evaluate on that one, in turn.")
    ap.add_argument("--data-dir", default=str(SHARED_DATA), help="where the datasets are")
    args = ap.parse_args(argv)
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        raise UsageError(f"no such directory: {data_dir}")
    _need_sklearn()
    found = datasets_in(data_dir)
    if len(found) < 2:
        raise UsageError(f"need at least two known datasets under {data_dir}, found "
                         f"{len(found)}")
    loaded = {folder: load_dataset(data_dir, fmt, rel) for folder, fmt, rel in found}
    summary = []
    failed = False
    for folder, _fmt, _rel in found:
        model = load_model(build_bundled(data_dir, exclude=(folder,), loaded=loaded))
        sessions = loaded[folder][0]
        buyers = sum(any(e.kind == EventKind.PURCHASE for e in evs) for evs in sessions.values())
        print(f"=== held out: {folder} ({len(sessions)} sessions, {buyers} with a purchase); "
              f"model fitted on the other {len(found) - 1} datasets: {model.k} classes")
        try:
            _rep, ev, by_n = evaluate_sessions(model, sessions)
        except UsageError as exc:
            print(f"not evaluated: {exc}\n")
            summary.append(f"{folder:<40} not evaluated ({exc})")
            continue
        print(format_table(ev))
        print("early sessions (state after the first n events, before any purchase):")
        print(format_early(by_n))
        print()
        lifts = ev.named_lifts(min_sessions=max(LODO_MIN_CLASS, ev.sessions // 100)) \
            if ev.purchases else []
        if not lifts:
            summary.append(f"{folder:<40} no purchases: lift undefined; violations "
                           f"{ev.violations}")
            continue
        (top_slug, top), (bottom_slug, bottom) = lifts[0], lifts[-1]
        verdict = ""
        if buyers >= LODO_MIN_BUYERS:
            ok = top >= LODO_TOP and bottom <= LODO_BOTTOM
            failed |= not ok
            verdict = (f"  target top >= {LODO_TOP} and bottom <= {LODO_BOTTOM}: "
                       + ("met" if ok else "NOT met"))
        summary.append(f"{folder:<40} top {top_slug} {top:.2f}, bottom {bottom_slug} "
                       f"{bottom:.2f}; violations {ev.violations}{verdict}")
    print("summary (purchase lift of the top and bottom named class on the held-out dataset):")
    for line in summary:
        print("  " + line)
    return 1 if failed else 0


COMMANDS = {"import": cmd_import, "fit": cmd_fit, "evaluate": cmd_evaluate,
            "lodo": cmd_lodo, "fit-bundled": cmd_fit_bundled}


def main(command: str, argv: list[str]) -> int:
    try:
        return COMMANDS[command](argv)
    except UsageError as exc:
        print(f"intentgate {command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # an output path that cannot be written, a file that went away
        where = f" {exc.filename}" if exc.filename else ""
        print(f"intentgate {command}: error: cannot use{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("sklearn", "scipy", "joblib", "threadpoolctl"):
            raise
        print(f"intentgate {command}: error: {FIT_INSTALL}", file=sys.stderr)
        return EXIT_USAGE
