"""``intentgate lift``: treatment vs holdout conversion by class, from a running proxy's admin API
or offline from recorded events (``record_events``: lines carry ``experiment`` and ``group``).

Offline, each session's events are replayed through the model with the proxy's rule: the class
is the one the session held after its last event before its first outcome (undetermined below
``--min-events`` events or outside every class's radius), and outcomes are the cart adds,
checkout steps and purchases recorded. The statistics are ``explain.lift``'s, so both sources
print the same report. Errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

import orjson

EXIT_USAGE = 2


def _die(message: str) -> NoReturn:
    print(f"intentgate lift: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _die(message)


def _from_api(url: str, token: str | None, name: str | None, metric: str,
              model: str | None) -> dict[str, Any]:
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    base = url.rstrip("/") + "/_intentgate/api/experiments"
    try:
        with httpx.Client(headers=headers, timeout=10.0) as client:
            if name is None:
                r = client.get(base)
                if r.status_code != 200:
                    _die(f"{base}: {r.status_code} {_reason(r)}")
                index = r.json()
                name = (index["current"] or {}).get("name") or (index["known"] or [None])[-1]
                if name is None:
                    _die("the proxy has no experiment (start one, or pass --experiment)")
            params = {"metric": metric, **({"model": model} if model else {})}
            r = client.get(f"{base}/{name}", params=params)
    except httpx.HTTPError as exc:
        _die(f"cannot reach {url}: {exc}")
    if r.status_code != 200:
        _die(f"{base}/{name}: {r.status_code} {_reason(r)}")
    body: dict[str, Any] = r.json()
    return body


def _reason(r: Any) -> str:
    try:
        return str(r.json().get("error", ""))
    except ValueError:
        return str(r.text[:200])


def counts_from_events(paths: list[str], model_path: str | None, name: str | None,
                       min_events: int = 3) -> tuple[dict[str, float], str, int]:
    """Counter fields (as the live book keeps them) from recorded event files; also the
    experiment's name and how many sessions carried no group."""
    from classifiers.artifact import UNDETERMINED, load_model
    from classifiers.kernels import Scorer
    from proxy.models import bundled_model_bytes
    from signals.events import EventKind
    from signals.features import FeatureExtractor
    from signals.outcomes import OUTCOME_BITS, OutcomeBook
    from signals.records import record_to_event
    from signals.state import SessionState

    try:
        data = bundled_model_bytes() if model_path is None else Path(model_path).read_bytes()
        model = load_model(data)
    except Exception as exc:
        _die(f"cannot load model {model_path}: {exc}")
    sessions: dict[str, list[Any]] = {}
    groups: dict[str, str] = {}
    untagged: set[str] = set()
    seen_names: set[str] = set()
    for path in paths:
        try:
            fh = sys.stdin.buffer if path == "-" else open(path, "rb")
        except OSError as exc:
            _die(f"cannot read {path}: {exc.strerror}")
        with fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                    key, ev = record_to_event(obj)
                except ValueError as exc:
                    _die(f"{path}:{n}: {exc}")
                exp, grp = obj.get("experiment"), obj.get("group")
                if grp not in ("treatment", "holdout") or not isinstance(exp, str):
                    untagged.add(key)
                    continue
                if name is not None and exp != name:
                    continue
                seen_names.add(exp)
                groups[key] = grp
                sessions.setdefault(key, []).append(ev)
    if name is None:
        if len(seen_names) > 1:
            _die(f"events of several experiments ({', '.join(sorted(seen_names))}): "
                 "pass --experiment")
        name = next(iter(seen_names), None)
    if name is None:
        _die("no recorded event carries an experiment group (record_events with an "
             "experiment running)")
    extractor = FeatureExtractor(model.feature_names, model.transforms)
    scorer = Scorer(model, min_events=min_events)
    import numpy as np

    xa = np.zeros(len(model.feature_names), dtype=np.float64)
    book = OutcomeBook(capacity=max(len(sessions), 1))
    for key in sorted(sessions):
        events = sorted(sessions[key], key=lambda e: e.ts)
        cut = next((i for i, e in enumerate(events) if e.kind in OUTCOME_BITS), len(events))
        state = SessionState()
        for ev in events[:cut]:
            state.apply(ev)
        cls = UNDETERMINED
        if cut:  # the proxy's rule, without hysteresis offline
            extractor.extract(state, events[cut - 1].ts, xa)
            cls = scorer.slug(scorer.label(state.events_seen, xa)[0])
        entry = book.open(key, groups[key] == "holdout", model.version, cls)
        for ev in events[cut:]:
            if ev.kind in OUTCOME_BITS:
                book.outcome(entry, EventKind(ev.kind))
    return book.counts, name, len(untagged - set(sessions))


def print_report(body: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    t = body["totals"]
    print(f"experiment {body['experiment']} · model {body['model']} · metric {body['metric']} · "
          f"{int(t['treatment']['sessions'])} treatment / {int(t['holdout']['sessions'])} "
          f"holdout sessions", file=out)
    print(f"{'class':<28} {'treatment':>18} {'holdout':>18} {'sessions T/H':>14}  verdict",
          file=out)
    for row in body["classes"]:
        cells = []
        for g in ("treatment", "holdout"):
            r = row[g]
            if r["rate"] is None:
                cells.append("—")
            else:
                lo, hi = r["interval"]
                cells.append(f"{100 * r['rate']:.1f} ({100 * lo:.1f}–{100 * hi:.1f})")
        verdict = "significant" if row["significant"] else (
            "not yet" if row["comparable"] else "no holdout")
        sessions = f"{row['treatment']['sessions']}/{row['holdout']['sessions']}"
        print(f"{row['class']:<28} {cells[0]:>18} {cells[1]:>18} {sessions:>14}  {verdict}",
              file=out)
    print(file=out)
    for s in body["sentences"]:
        print(s, file=out)


def main(argv: list[str]) -> int:
    ap = _Parser(
        prog="intentgate lift",
        description="treatment vs holdout conversion by class (from the API or recorded events)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--url", help="a running proxy's admin base URL, e.g. http://127.0.0.1:8080")
    src.add_argument("--events", nargs="+", metavar="FILE",
                     help="recorded event JSONL files (- for stdin)")
    ap.add_argument("--model", help="model artifact to classify recorded events with "
                                    "(--events; default: the bundled model)")
    ap.add_argument("--token", help="admin token (default: INTENTGATE_ADMIN_TOKEN)")
    ap.add_argument("--experiment", help="experiment name (default: the running or only one)")
    ap.add_argument("--metric", choices=("purchase", "checkout", "cart"), default="purchase")
    ap.add_argument("--min-events", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    from proxy.experiments import check_name, lift_report

    if args.experiment is not None:
        try:
            check_name(args.experiment)
        except ValueError as exc:
            _die(str(exc))
    if args.url:
        token = args.token
        if token is None:
            from proxy.config import ConfigError, load_settings

            try:
                token = load_settings().admin_token
            except ConfigError as exc:
                _die(str(exc))
        body = _from_api(args.url, token, args.experiment, args.metric, None)
    else:
        counts, name, untagged = counts_from_events(args.events, args.model, args.experiment,
                                                    args.min_events)
        body = lift_report(counts, name=name, metric=args.metric, model=None, active=None)
        body["sessions_without_group"] = untagged
    if args.json:
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_report(body)
    return 0
