"""``intentgate routes suggest|test``: route rules for a shop from its access logs, and a tester.

``suggest LOG…`` mines URL templates from access logs (any format ``signals.accesslog`` reads) and
prints a TOML config file with one commented rule per template (``signals.suggest``). With
``--config`` the shop's current rules and preset are applied first and only the requests they do
not decide are mined (the rules to add).

``test [--config F] METHOD URL [STATUS]`` says which rule decides a request, the event and its
captures; ``test -`` reads ``METHOD URL [STATUS]`` lines (or access-log lines) from standard input
and prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

import orjson

from signals.events import PAGE_KINDS
from signals.routes import RouteTable

EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def load_routes(config: str | None, preset: str | None = None) -> tuple[RouteTable, str, int]:
    """The route table ``serve`` would build from ``--config`` (and ``--preset``); returns it with
    the preset name and the number of the shop's own rules. Raises ``UsageError``."""
    from proxy.config import ConfigError, load_settings
    from signals.errors import RuleError

    try:
        settings = load_settings(config_file=config, overrides={"preset": preset})
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        table = RouteTable.from_config(settings.preset, settings.rules)
    except RuleError as exc:
        raise UsageError(str(exc)) from None
    return table, settings.preset, len(settings.rules)


def _open(path: str) -> IO[str]:
    from proxy.commands.offline import UsageError as OfflineUsage
    from proxy.commands.offline import _open_text

    try:
        return _open_text(path)
    except OfflineUsage as exc:
        raise UsageError(str(exc)) from None


# -- suggest -----------------------------------------------------------------------------


def cmd_suggest(argv: list[str]) -> int:
    from signals.accesslog import AccessLogCounts, nothing_parsed, parse_lines
    from signals.suggest import Miner, render_toml

    ap = _Parser(prog="intentgate routes suggest")
    ap.add_argument("logs", nargs="+", help="access logs (gzip ok; - for standard input)")
    ap.add_argument("--config", help="the shop's config file: mine only what its rules miss")
    ap.add_argument("--preset", help="with --config: the preset to apply first")
    ap.add_argument("--cookie", default="ig_sid", help="session cookie name in the log")
    args = ap.parse_args(argv)
    table = None
    if args.config is not None or args.preset is not None:
        table, preset, _ = load_routes(args.config, args.preset)
    miner = Miner()
    counts = AccessLogCounts()
    decided = 0
    for path in args.logs:
        one = AccessLogCounts()
        with _open(path) as fh:
            for line in parse_lines(fh, one, args.cookie):
                if table is not None and table.which(line.method, line.path, line.query):
                    decided += 1
                    continue
                actor = line.session or (line.client + "\x00" + line.agent)
                miner.add(line.method, line.path, line.query.decode("latin-1"), line.status,
                          actor, line.ts)
        msg = nothing_parsed(one, path)
        if msg is not None:
            raise UsageError(msg)
        counts.add(one)
    suggestions = miner.suggest()
    formats = ", ".join(f"{k} {v}" for k, v in sorted(counts.formats.items()))
    header = [
        f"intentgate routes suggest: {miner.requests} requests from {', '.join(args.logs)} "
        f"({formats}; {counts.malformed} lines skipped)",
    ]
    if table is not None:
        header.append(f"{decided} requests already decided by the rules of {args.config} "
                      "(not mined): add the rules below to that file")
    sys.stdout.write(render_toml(suggestions, header=header,
                                 preset=None if table is not None else "none"))
    print(f"routes suggest: {sum(1 for s in suggestions if s.proposed and s.kind != 'page')} "
          f"rules from {miner.requests} requests", file=sys.stderr)
    return 0


# -- test --------------------------------------------------------------------------------


def _split(url: str) -> tuple[str, bytes]:
    if "://" in url:
        parts = urlsplit(url)
        return parts.path or "/", parts.query.encode()
    path, _, query = url.partition("?")
    return path, query.encode()


def decide(table: RouteTable, method: str, url: str, status: int | None) -> dict[str, Any]:
    """What the proxy makes of one request and its answer (the JSON object ``test`` prints)."""
    from urllib.parse import unquote

    method = method.upper()
    raw_path, query = _split(url)
    path = unquote(raw_path)
    out: dict[str, Any] = {"method": method, "url": url, "status": status}
    if not path.startswith("/"):
        out.update(rule=None, kind=None, captures={}, why="not a path (must start with '/')")
        return out
    rule = table.which(method, path, query)
    ev = table.match(method, path, query, 0.0)
    captures: dict[str, Any] = {}
    kind: str | None = None
    if ev is not None:
        kind = ev.kind.slug
        for name in ("product", "category", "query"):
            v = getattr(ev, name)
            if v is not None:
                captures[name] = v
        if ev.value:
            captures["value"] = ev.value
    out.update(rule=rule, kind=kind, captures=captures)
    why = None
    if ev is None:
        if rule is not None:
            why = "an ignore rule: no event, no page view"
        elif table.is_ignored(path):
            why = "static asset, health check or admin path: no event"
        elif method != "GET":
            why = f"no rule matches {method} {path}: a {method} without a rule makes no event"
        else:
            why = "no rule matches"
    elif rule is None:
        why = "no rule matches: an unmatched GET page counts as a page view"
    if ev is not None and status is not None:
        if status >= 400:
            kind, why = None, f"status {status}: the event is undone (4xx/5xx)"
        elif 300 <= status < 400 and ev.kind in PAGE_KINDS:
            kind, why = None, (f"status {status}: a redirect is not a page view, the event is "
                               "undone (actions count on 3xx)")
    out["kind"] = kind
    if why is not None:
        out["why"] = why
    return out


def _stdin_requests(fh: IO[str]) -> Iterator[tuple[str, str, int | None, str]]:
    from signals.accesslog import parse_line

    for raw in fh:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        if len(parts) in (2, 3) and parts[0].isalpha() and parts[0].isupper() and (
                len(parts) == 2 or parts[2].isdigit()):
            yield parts[0], parts[1], int(parts[2]) if len(parts) == 3 else None, ""
            continue
        line = parse_line(text)  # an access-log line works too
        if line is not None:
            q = line.query.decode("latin-1")
            yield line.method, line.path + ("?" + q if q else ""), line.status, ""
            continue
        yield "", text, None, "expected METHOD URL [STATUS] or an access-log line"


def cmd_test(argv: list[str]) -> int:
    ap = _Parser(prog="intentgate routes test")
    ap.add_argument("--config", help="TOML config file (rules and preset), as for serve")
    ap.add_argument("--preset", help="storefront route preset (default: the config's, or auto)")
    ap.add_argument("request", nargs="+", help="METHOD URL [STATUS], or - to read lines")
    args = ap.parse_args(argv)
    table, _, _ = load_routes(args.config, args.preset)
    if args.request == ["-"]:
        out = sys.stdout.buffer
        for method, url, status, error in _stdin_requests(sys.stdin):
            if error:
                obj: dict[str, Any] = {"method": None, "url": url, "status": None, "rule": None,
                                       "kind": None, "captures": {}, "why": error}
            else:
                obj = decide(table, method, url, status)
            out.write(orjson.dumps(obj) + b"\n")
        out.flush()
        return 0
    req = args.request
    if len(req) not in (2, 3) or (len(req) == 3 and not req[2].isdigit()):
        raise UsageError("expected METHOD URL [STATUS] (e.g. GET /p/12-shirt.html 200) or -")
    method = req[0].upper()
    from signals.routes import METHODS

    if method not in METHODS:
        raise UsageError(f"bad method {req[0]!r} (expected one of {', '.join(sorted(METHODS))})")
    got = decide(table, method, req[1], int(req[2]) if len(req) == 3 else None)
    caps = ", ".join(f"{k}={v!r}" for k, v in got["captures"].items())
    print(f"{got['method']} {got['url']}" + (f" {got['status']}" if got["status"] else ""))
    print(f"  rule:     {got['rule'] or '-'}")
    print(f"  kind:     {got['kind'] or '- (no event)'}")
    print(f"  captures: {caps or '-'}")
    if "why" in got:
        print(f"  why:      {got['why']}")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("suggest", "test"):
        print("usage: intentgate routes {suggest LOG… | test [--config F] METHOD URL [STATUS]}",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        return (cmd_suggest if argv[0] == "suggest" else cmd_test)(argv[1:])
    except UsageError as exc:
        print(f"intentgate routes {argv[0]}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0

