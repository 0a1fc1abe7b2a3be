"""Web server access logs -> shopper events, replayed through the same route rules as the proxy.

Pure: lines in, records out. Parses the nginx/Apache "combined" format, optionally followed by
one extra quoted field holding a session cookie value or a ``Cookie`` header. Without a session
field, visits are approximated by client address + user agent with a 30-minute gap, and
``AccessLogCounts.approximated`` says so. Malformed lines are counted and skipped; 4xx/5xx
responses and bots produce no event. The client address is used only as a grouping key and is
pseudonymised (keyed hash) before it leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from signals.events import ShopperEvent

# 127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a?b HTTP/1.1" 200 2326 "ref" "agent" ["x"]
_LINE = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] '
    r'"(?P<method>[A-Z]+) (?P<target>\S+)(?: HTTP/[\d.]+)?" (?P<status>\d{3}) \S+'
    r'(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?(?: "(?P<extra>[^"]*)")?\s*$'
)
SESSION_GAP = 1800.0


class _Matcher(Protocol):
    def match(self, method: str, path: str, query_string: bytes,
              now: float) -> ShopperEvent | None: ...


@dataclass
class AccessLogCounts:
    lines: int = 0
    events: int = 0
    malformed: int = 0
    no_event: int = 0
    errors: int = 0  # 4xx/5xx responses
    bots: int = 0
    approximated: int = 0  # lines grouped by client + agent (no session field)
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LogLine:
    ts: float
    client: str
    agent: str
    method: str
    path: str
    query: bytes
    status: int
    session: str | None


def _session_field(extra: str | None, cookie_name: str) -> str | None:
    if not extra or extra == "-":
        return None
    if "=" not in extra:
        return extra
    for part in extra.split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie_name and value:
            return value
    return None


def parse_line(line: str, cookie_name: str = "ig_sid") -> LogLine | None:
    """One combined-format line, or ``None`` when it is not one."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    try:
        ts = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
    except ValueError:
        return None
    path, _, query = m["target"].partition("?")
    if not path.startswith("/"):
        return None
    from urllib.parse import unquote

    return LogLine(ts, m["client"], m["agent"] or "", m["method"], unquote(path),
                   query.encode("latin-1", "replace"), int(m["status"]),
                   _session_field(m["extra"], cookie_name))


def replay_log(
    lines: Iterable[str],
    routes: _Matcher,
    counts: AccessLogCounts,
    *,
    pseudonym: Callable[[str], str],
    is_bot: Callable[[str], bool] = lambda agent: False,
    cookie_name: str = "ig_sid",
) -> Iterator[dict[str, Any]]:
    """Yield event records (the JSONL format ``fit`` reads) for the lines that are events."""
    from signals.records import event_to_record

    last_seen: dict[str, float] = {}
    visit_no: dict[str, int] = {}
    for raw in lines:
        counts.lines += 1
        if not raw.strip():
            continue
        line = parse_line(raw, cookie_name)
        if line is None:
            counts.malformed += 1
            if len(counts.examples) < 3:
                counts.examples.append(raw[:120])
            continue
        if line.status >= 400:
            counts.errors += 1
            continue
        if is_bot(line.agent):
            counts.bots += 1
            continue
        event = routes.match(line.method, line.path, line.query, line.ts)
        if event is None:
            counts.no_event += 1
            continue
        if line.session is not None:
            key = "c:" + line.session
        else:
            counts.approximated += 1
            actor = line.client + "\x00" + line.agent
            last = last_seen.get(actor)
            if last is None or line.ts - last > SESSION_GAP or line.ts < last:
                visit_no[actor] = visit_no.get(actor, 0) + 1
            last_seen[actor] = line.ts
            key = f"a:{actor}#{visit_no[actor]}"
        counts.events += 1
        yield event_to_record(pseudonym(key), event)
