"""Web server access logs -> shopper events, replayed through the same route rules as the proxy.

Pure: lines in, records out. Formats, detected line by line (no setting):

``common``        ``host ident user [time] "request" status bytes`` (nginx/Apache)
``combined``      common + ``"referer" "user-agent"`` (nginx's and Apache's default, and
                  gunicorn's default ``access_log_format``)
``combined+session``  combined + one more quoted field: a session id (``$cookie_ig_sid``) or a
                  whole ``Cookie`` header, from which the ``ig_sid`` cookie is taken
``uvicorn``       uvicorn's default access line ``INFO:     1.2.3.4:5678 - "GET /a HTTP/1.1" 200``
                  (it has no time stamp: lines are given one second each, in file order)
``json``          one JSON object per line (nginx ``log_format ... escape=json``, or any logger):
                  keys such as ``time_local``/``time_iso8601``/``time``, ``remote_addr``,
                  ``request`` or ``request_method`` + ``request_uri``, ``status``,
                  ``http_user_agent``, ``cookie_ig_sid``/``session``/``http_cookie``

Quoted fields may hold escaped quotes (``\\"`` as Apache and gunicorn write them, ``\\x22`` as
nginx does). Without a session field, visits are approximated by client address + user agent with
a 30-minute gap, and ``AccessLogCounts.approximated`` says so (behind a reverse proxy or a CDN
every shopper shares an address: log the session cookie). Malformed lines are counted and skipped;
4xx/5xx responses, redirected page views (3xx) and bots produce no event. The client address is
used only as a grouping key and is pseudonymised (keyed hash) before it leaves this module.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote

import orjson

from signals.events import PAGE_KINDS, ShopperEvent

# A quoted field: anything but a quote or a backslash, or a backslash escape.
_Q = r'"((?:[^"\\]|\\.)*)"'
# 127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a?b HTTP/1.1" 200 2326 "ref" "agent" ["x"]
_LINE = re.compile(
    r'^(?P<client>\S+) \S+ (?:\S+|"[^"]*") \[(?P<time>[^\]]+)\] '
    r'"(?P<method>[A-Z]+) (?P<target>\S+)(?: HTTP/[\d.]+)?" (?P<status>\d{3}) \S+'
    r'(?: ' + _Q.replace("(", "(?P<referer>", 1) + " " + _Q.replace("(", "(?P<agent>", 1) + ")?"
    r'(?: ' + _Q.replace("(", "(?P<extra>", 1) + r')?\s*$'
)
# INFO:     127.0.0.1:53422 - "GET /p/1-x.html?a=b HTTP/1.1" 200 OK   (colours stripped first)
_UVICORN = re.compile(
    r'^(?:[A-Z]+:\s+)?(?P<client>\S+?)(?::\d+)? - "(?P<method>[A-Z]+) (?P<target>\S+)'
    r'(?: HTTP/[\d.]+)?" (?P<status>\d{3})(?: [A-Za-z \-]*)?\s*$'
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CLF_TIME = re.compile(
    r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
SESSION_GAP = 1800.0
FORMATS = "common, combined, combined + a quoted session or Cookie field, gunicorn, uvicorn, " \
    "JSON lines"
EXPECTED = ('e.g. 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /p/1 HTTP/1.1" 200 512 "-" '
            '"Mozilla/5.0" "<session id>"')

_JSON_TIME = ("time_local", "time_iso8601", "time", "timestamp", "@timestamp", "ts", "msec")
_JSON_CLIENT = ("remote_addr", "client", "client_ip", "ip", "remote_ip", "host")
_JSON_AGENT = ("http_user_agent", "user_agent", "agent", "ua")
_JSON_SESSION = ("cookie_ig_sid", "ig_sid", "session", "session_id", "sid")
_JSON_COOKIE = ("http_cookie", "cookie", "cookies")


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
    redirects: int = 0  # page views answered with a 3xx (not a page the shopper saw)
    bots: int = 0
    approximated: int = 0  # lines grouped by client + agent (no session field)
    untimed: int = 0  # lines without a time stamp (uvicorn): one second each, in file order
    examples: list[str] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)

    def add(self, other: AccessLogCounts) -> None:
        """Add ``other``'s counts (one file's) to these (a run's)."""
        for name in ("lines", "events", "malformed", "no_event", "errors", "redirects", "bots",
                     "approximated", "untimed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.examples = (self.examples + other.examples)[:3]
        for k, v in other.formats.items():
            self.formats[k] = self.formats.get(k, 0) + v


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
    format: str = "combined"


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return text.replace("\\x22", '"').replace('\\"', '"').replace("\\\\", "\\")


def _session_field(extra: str | None, cookie_name: str) -> str | None:
    if not extra or extra == "-":
        return None
    extra = _unescape(extra)
    if "=" not in extra:
        return extra
    return _cookie(extra, cookie_name)


def _cookie(header: str, cookie_name: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie_name and value:
            return value.strip('"')
    return None


_time_cache: dict[str, float] = {}


def clf_time(text: str) -> float | None:
    """``10/Oct/2000:13:55:36 -0700`` as epoch seconds (cached per distinct second)."""
    got = _time_cache.get(text)
    if got is not None:
        return got
    m = _CLF_TIME.match(text)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    month = _MONTHS.get(mon)
    if month is None or not 1 <= int(day) <= 31 or int(hh) > 23 or int(mm) > 59 or int(ss) > 60:
        return None
    try:
        base = calendar.timegm((int(year), month, int(day), int(hh), int(mm), int(ss), 0, 0, 0))
        datetime(int(year), month, int(day))  # rejects 31 February
    except ValueError:
        return None
    offset = (int(oh) * 3600 + int(om) * 60) * (1 if sign == "+" else -1)
    ts = float(base - offset)
    if len(_time_cache) > 4096:
        _time_cache.clear()
    _time_cache[text] = ts
    return ts


def _iso_time(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    if not isinstance(value, str):
        return None
    got = clf_time(value)
    if got is not None:
        return got
    try:
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.timestamp()


def _split_target(target: str) -> tuple[str, bytes] | None:
    path, _, query = target.partition("?")
    if not path.startswith("/"):
        if "://" in path:  # absolute-form request target
            rest = path.split("://", 1)[1]
            slash = rest.find("/")
            path = rest[slash:] if slash != -1 else "/"
        else:
            return None
    return (unquote(path) if "%" in path else path), query.encode("latin-1", "replace")


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = obj.get(k)
        if v not in (None, "", "-"):
            return v
    return None


def _parse_json(text: str, cookie_name: str, untimed_ts: float) -> LogLine | None:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    method = obj.get("request_method") or obj.get("method")
    target = obj.get("request_uri") or obj.get("uri") or obj.get("url") or obj.get("path")
    request = obj.get("request")
    if isinstance(request, str) and (not method or not target):
        parts = request.split(" ")
        if len(parts) >= 2:
            method, target = parts[0], parts[1]
    if not isinstance(method, str) or not isinstance(target, str):
        return None
    args = obj.get("args") or obj.get("query_string") or obj.get("query")
    if isinstance(args, str) and args and "?" not in target:
        target = target + "?" + args
    status = obj.get("status") or obj.get("status_code")
    try:
        code = int(status)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    split = _split_target(target)
    if split is None or not 100 <= code <= 599:
        return None
    raw_ts = _first(obj, _JSON_TIME)
    ts = _iso_time(raw_ts) if raw_ts is not None else untimed_ts
    if ts is None:
        return None
    session = _first(obj, _JSON_SESSION)
    if session is None:
        cookie = _first(obj, _JSON_COOKIE)
        session = _cookie(cookie, cookie_name) if isinstance(cookie, str) else None
    client = _first(obj, _JSON_CLIENT)
    agent = _first(obj, _JSON_AGENT)
    return LogLine(ts, str(client or "-"), str(agent or ""), method.upper(), split[0], split[1],
                   code, str(session) if session is not None else None, "json")


def parse_line(line: str, cookie_name: str = "ig_sid", untimed_ts: float = 0.0) -> LogLine | None:
    """One access-log line in any supported format (see the module docstring), or ``None``.

    ``untimed_ts`` is the time given to a line whose format has no time stamp (uvicorn)."""
    text = line.rstrip("\r\n")
    if text.startswith("{"):
        return _parse_json(text, cookie_name, untimed_ts)
    m = _LINE.match(text)
    if m is not None:
        ts = clf_time(m["time"])
        if ts is None:
            return None
        split = _split_target(m["target"])
        if split is None:
            return None
        extra = m["extra"]
        fmt = ("combined+session" if extra is not None
               else "combined" if m["agent"] is not None else "common")
        return LogLine(ts, m["client"], _unescape(m["agent"] or ""), m["method"], split[0],
                       split[1], int(m["status"]), _session_field(extra, cookie_name), fmt)
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    m = _UVICORN.match(text)
    if m is not None:
        split = _split_target(m["target"])
        if split is None:
            return None
        return LogLine(untimed_ts, m["client"], "", m["method"], split[0], split[1],
                       int(m["status"]), None, "uvicorn")
    return None


def parse_lines(lines: Iterable[str], counts: AccessLogCounts,
                cookie_name: str = "ig_sid") -> Iterator[LogLine]:
    """The parsed lines of a log, counting lines, malformed lines (three kept as examples)
    and the formats seen. Untimed lines get one second each after the last time seen."""
    clock = 0.0
    for raw in lines:
        counts.lines += 1
        if not raw.strip():
            continue
        line = parse_line(raw, cookie_name, clock + 1.0)
        if line is None:
            counts.malformed += 1
            if len(counts.examples) < 3:
                counts.examples.append(raw.rstrip("\r\n")[:160])
            continue
        if line.format == "uvicorn" or line.ts == clock + 1.0 and line.format == "json":
            counts.untimed += 1
        clock = line.ts
        counts.formats[line.format] = counts.formats.get(line.format, 0) + 1
        yield line


def nothing_parsed(counts: AccessLogCounts, source: str) -> str | None:
    """One line saying that no line of ``source`` is in a known format, or ``None``."""
    if counts.lines == 0 or any(counts.formats.values()):
        return None
    first = counts.examples[0] if counts.examples else ""
    return (f"{source}: no line is an access-log line in a known format ({FORMATS}; "
            f"{EXPECTED}); first line: {first!r}")


def replay_log(
    lines: Iterable[str],
    routes: _Matcher,
    counts: AccessLogCounts,
    *,
    pseudonym: Callable[[str], str],
    is_bot: Callable[[str], bool] = lambda agent: False,
    cookie_name: str = "ig_sid",
) -> Iterator[dict[str, Any]]:
    """Yield event records (the JSONL format ``fit`` reads) for the lines that are events.

    Status rules are the proxy's: 4xx/5xx make no event; a 3xx makes no page event (a redirect
    is not a page the shopper saw) but an action (cart add, wishlist add, checkout POST...)
    answered with a redirect counts, since POST-redirect-GET is how shops answer forms."""
    from signals.records import event_to_record

    last_seen: dict[str, float] = {}
    visit_no: dict[str, int] = {}
    for line in parse_lines(lines, counts, cookie_name):
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
        if 300 <= line.status < 400 and event.kind in PAGE_KINDS:
            counts.redirects += 1
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
