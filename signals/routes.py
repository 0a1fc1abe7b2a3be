"""Route rules: a request's method, path and query string become one ``ShopperEvent`` (or none).

Rules are data (``RuleSpec``, validated once), compiled once into a ``RouteTable`` that answers a
request in a few microseconds. Pure: no I/O, no clock (``now`` is an argument), never reads bodies.

Rule syntax (the same for presets and the config file)::

    {"name": "my-search", "kind": "search", "method": "GET", "path": "/find",
     "query": {"q": "*"}, "capture": {"query": "q"}}

``path``
    Literal segments; ``*`` inside a segment matches any characters but ``/``; a segment ``**``
    matches zero or more segments; ``{product}``, ``{category}``, ``{query}`` capture (part of) a
    segment, ``{items}`` a segment whose comma-separated parts are counted into ``value``;
    ``{name+}`` captures one or more whole segments. Literal suffixes work (``{product}.html``,
    ``/cart/add.js``). A trailing ``/`` is always optional.
``method``
    ``"GET"`` by default; a method, a list of methods, or ``"*"`` for any.
``query``
    Conditions on query keys, all of which must hold: ``"*"`` key present (any value);
    ``"price-*"`` value prefix; ``"a|b"`` one of several values (each may be a prefix);
    anything else: exact value. A key ending in ``*`` (``"filter.v.price.*"``) means any key with
    that prefix.
``capture``
    Target → query key: ``product``, ``category``, ``query`` (text, percent-decoded, bounded),
    ``items`` (count of comma-separated values into ``value``), ``value`` (a number).
``value``
    A constant number for the event (default 0).
``kind``
    An event slug (``signals.events.EventKind``) or ``"ignore"``: the request produces no event
    and no page view (XHRs such as predictive search).
``priority``
    Higher first; ties go to more query conditions, then the more literal path.

Order: the shop's own rules (config file) come before every preset rule; inside each group the
priority order above applies. Non-events: static assets (by extension), ``/_intentgate/*``, health
checks, ``ignore`` rules, unmatched non-GET requests. An unmatched GET page is a ``PAGE_VIEW``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from signals.errors import RuleError, validation_reason
from signals.events import EventKind, ShopperEvent
from signals.presets import EXPLICIT_RULES, PRESET_RULES, preset_rules

PRESETS: tuple[str, ...] = ("auto", "none", *PRESET_RULES)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CAPTURES = ("product", "category", "query", "items")
QUERY_CAPTURES = ("product", "category", "query", "items", "value")
IGNORE = "ignore"

# Text captured from URLs is bounded: it ends up in session state, logs and records.
MAX_TEXT = 100
_CACHE_SIZE = 8192  # distinct (method, path, query) outcomes kept; cleared when full
_CACHE_KEY_MAX = 512  # longer URLs are matched every time, never cached
# A query string is parsed up to this many pairs; the rest is ignored (hostile URLs).
MAX_QUERY_PAIRS = 64

STATIC_EXTENSIONS = frozenset(
    {
        "css", "js", "mjs", "map", "json", "xml", "txt", "webmanifest",
        "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "tif", "tiff",
        "woff", "woff2", "ttf", "otf", "eot",
        "mp4", "webm", "mp3", "ogg", "wav", "m4a", "mov",
        "pdf", "zip", "gz", "br", "wasm",
    }
)  # fmt: skip
HEALTH_PATHS = frozenset(
    {"/health", "/healthz", "/ready", "/readyz", "/livez", "/ping", "/robots.txt", "/favicon.ico"}
)
ADMIN_PREFIX = "/_intentgate/"

_NAME_RE = re.compile(r"\{([^{}]*)\}")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+\*?$")


class RuleSpec(BaseModel):
    """One route rule as written in a preset or the config file (validated at startup)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    path: str
    method: str | tuple[str, ...] = "GET"
    query: dict[str, str] = {}
    capture: dict[str, str] = {}
    value: float = 0.0
    priority: int = 0
    name: str | None = None

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, v: str) -> str:
        if v != IGNORE:
            try:
                EventKind.from_slug(v)
            except ValueError:
                known = ", ".join(k.slug for k in EventKind)
                raise ValueError(f"unknown kind {v!r} (expected one of {known}, ignore)") from None
        return v

    @field_validator("method")
    @classmethod
    def _check_method(cls, v: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for m in (v,) if isinstance(v, str) else v:
            if m != "*" and m.upper() not in METHODS:
                raise ValueError(f"bad method {m!r} (expected one of {sorted(METHODS)} or '*')")
        if not isinstance(v, str) and not v:
            raise ValueError("empty method list")
        return v

    @field_validator("query")
    @classmethod
    def _check_query(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not _KEY_RE.match(key):
                raise ValueError(f"bad query key {key!r}")
        return v

    @field_validator("capture")
    @classmethod
    def _check_capture(cls, v: dict[str, str]) -> dict[str, str]:
        for target, key in v.items():
            if target not in QUERY_CAPTURES:
                raise ValueError(
                    f"unknown capture {target!r} (expected one of {', '.join(QUERY_CAPTURES)})"
                )
            if not key or not _KEY_RE.match(key) or key.endswith("*"):
                raise ValueError(f"bad query key {key!r} for capture {target!r}")
        return v

    @field_validator("value")
    @classmethod
    def _check_value(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("value must be a finite number")
        return v


# -- compiled form ---------------------------------------------------------------------------


class _Cond(NamedTuple):
    key: str
    key_prefix: bool  # key ended in "*"
    present: bool  # value "*": presence is enough
    exact: frozenset[str]
    prefixes: tuple[str, ...]


class _Rule(NamedTuple):
    label: str
    kind: EventKind | None  # None: an "ignore" rule
    regex: re.Pattern[str]
    methods: frozenset[str]
    first: str | None  # first path segment when literal: the bucket key
    path_captures: tuple[str, ...]  # group names present in regex
    conds: tuple[_Cond, ...]
    captures: tuple[tuple[str, str], ...]  # (target, query key)
    needs_query: bool
    value: float
    literal_ext: bool  # pattern ends in a literal ".ext": may match a "static" path (/cart/add.js)
    sort_key: tuple[int, ...]


class RouteTable:
    """Compiled route rules; ``match`` is the per-request call.

    Rules are bucketed by method and first literal path segment; within a bucket they are tried
    in priority order, each a precompiled anchored regex, the query string parsed at most once
    and only when a candidate rule looks at it.
    """

    __slots__ = ("_by_method", "_cache", "_claimed", "_ignore_paths", "_rules", "max_text")

    def __init__(self, rules: Sequence[_Rule], *, max_text: int = MAX_TEXT) -> None:
        # Storefront traffic repeats its URLs (the same product pages, the same listings): the
        # outcome of a match is cached by (method, path, query), bounded, and only the time
        # stamp differs per request. A scan of the auto preset's buckets costs ~5-10 µs; a hit
        # ~0.5 µs.
        self._cache: dict[tuple[str, str, bytes], ShopperEvent | None] = {}
        self._rules = tuple(rules)
        self.max_text = max_text
        methods = set(METHODS)
        by_method: dict[str, tuple[dict[str, tuple[_Rule, ...]], tuple[_Rule, ...]]] = {}
        for method in methods:
            by_method[method] = _bucket([r for r in self._rules if method in r.methods])
        self._by_method = by_method
        # Paths an "ignore" rule claims whatever the method and query: no event, no cookies.
        self._ignore_paths = _union(
            r.regex.pattern
            for r in self._rules
            if r.kind is None and not r.conds and r.methods == METHODS
        )
        # Static-looking paths an event rule names literally (/cart/add.js, /cart/change.js).
        self._claimed = _union(
            r.regex.pattern for r in self._rules if r.literal_ext and r.kind is not None
        )

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_specs(
        cls,
        specs: Iterable[RuleSpec | Mapping[str, Any]],
        *,
        source: str = "rules",
        base: Iterable[RuleSpec | Mapping[str, Any]] = (),
        base_source: str = "preset",
        max_text: int = MAX_TEXT,
    ) -> RouteTable:
        """Compile ``specs`` (tried first) and ``base`` rules (tried after, e.g. a preset)."""
        first = _compile_group(specs, source, group=0)
        then = _compile_group(base, base_source, group=1)
        return cls(sorted(first + then, key=lambda r: r.sort_key), max_text=max_text)

    @classmethod
    def from_config(
        cls, preset: str, rules: Sequence[Mapping[str, Any] | RuleSpec] = (), *,
        max_text: int = MAX_TEXT,
    ) -> RouteTable:
        """The preset's rules overridden by the shop's ``rules``; raises ``RuleError``.

        ``preset`` is one of ``PRESETS``: a platform, ``"auto"`` (every platform's rules
        together) or ``"none"`` (only the shop's rules).
        """
        if preset not in PRESETS:
            raise RuleError(f"unknown preset {preset!r} (expected one of {', '.join(PRESETS)})")
        base: tuple[Mapping[str, Any], ...] = ()
        if preset == "auto":
            base = tuple(r for name in PRESET_RULES for r in preset_rules(name))
        elif preset != "none":
            base = preset_rules(preset) + EXPLICIT_RULES.get(preset, ())
        return cls.from_specs(
            rules, source="rules", base=base, base_source=f"preset {preset}", max_text=max_text
        )

    # -- the request path -----------------------------------------------------------------

    def match(
        self, method: str, path: str, query_string: bytes, now: float
    ) -> ShopperEvent | None:
        """The event this request is, or ``None`` (asset, health check, admin, ignored, not a
        page). ``path`` is the decoded ASGI path, ``query_string`` the raw bytes."""
        key = (method, path, query_string)
        cache = self._cache
        if key in cache:
            ev = cache[key]
            if ev is None:
                return None
            return ShopperEvent(ev[0], now, ev[2], ev[3], ev[4], ev[5])
        ev = self._match(method, path, query_string, now)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        if len(path) + len(query_string) <= _CACHE_KEY_MAX:
            cache[key] = ev
        return ev

    def _match(
        self, method: str, path: str, query_string: bytes, now: float
    ) -> ShopperEvent | None:
        rule, m, query = self._find(method, path, query_string)
        if rule is None:
            if method != "GET" or path.startswith(ADMIN_PREFIX) or _is_static(path):
                return None
            if path in HEALTH_PATHS:
                return None
            return ShopperEvent(EventKind.PAGE_VIEW, now)
        kind = rule.kind
        if kind is None or m is None:
            return None
        return self._event(rule, kind, m, query, query_string, now)

    def which(self, method: str, path: str, query_string: bytes = b"") -> str | None:
        """The label of the rule that decides this request (``"rules[0] my-search"``), if any."""
        rule = self._find(method, path, query_string)[0]
        return None if rule is None else rule.label

    def is_ignored(self, path: str) -> bool:
        """True for paths that never make an event for any method: admin surface, health checks,
        static assets, and paths of ``ignore`` rules (so no cookies are set for them)."""
        if path.startswith(ADMIN_PREFIX) or path in HEALTH_PATHS:
            return True
        if _is_static(path) and (self._claimed is None or self._claimed.match(path) is None):
            return True
        return self._ignore_paths is not None and self._ignore_paths.match(path) is not None

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def labels(self) -> tuple[str, ...]:
        """Rule labels in the order they are tried (for startup logs and the admin page)."""
        return tuple(r.label for r in self._rules)

    def counts_by_source(self) -> dict[str, int]:
        """Rules per source (``{"rules": 12, "preset auto": 80}``), for the startup log."""
        out: dict[str, int] = {}
        for r in self._rules:
            source = r.label.split("[", 1)[0]
            out[source] = out.get(source, 0) + 1
        return out

    # -- internals ------------------------------------------------------------------------

    def _find(
        self, method: str, path: str, query_string: bytes
    ) -> tuple[_Rule | None, re.Match[str] | None, dict[str, str] | None]:
        if path.startswith(ADMIN_PREFIX):
            return None, None, None
        table = self._by_method.get(method)
        if table is None:
            return None, None, None
        firsts, wild = table
        end = path.find("/", 1)
        candidates = firsts.get(path[1:] if end == -1 else path[1:end], wild)
        if not candidates:
            return None, None, None
        static: bool | None = None
        query: dict[str, str] | None = None
        for rule in candidates:
            if rule.needs_query and not query_string:
                continue
            m = rule.regex.match(path)
            if m is None:
                continue
            if not rule.literal_ext:
                if static is None:
                    static = _is_static(path)
                if static:
                    continue
            if rule.needs_query:
                if query is None:
                    query = parse_query(query_string)
                if not _conds_hold(rule.conds, query):
                    continue
            return rule, m, query
        return None, None, query

    def _event(
        self,
        rule: _Rule,
        kind: EventKind,
        m: re.Match[str],
        query: dict[str, str] | None,
        query_string: bytes,
        now: float,
    ) -> ShopperEvent:
        limit = self.max_text
        product = category = text = None
        value = rule.value
        for name in rule.path_captures:
            raw = m.group(name)
            if raw is None:
                continue
            if name == "items":
                value = float(_count_items(raw))
                continue
            raw = raw.rstrip("/")
            if name == "product":
                product = _bound(raw, limit)
            elif name == "category":
                category = _bound(raw, limit)
            else:
                text = _bound(raw, limit)
        if rule.captures:
            if query is None:
                query = parse_query(query_string)
            for target, key in rule.captures:
                got = query.get(key)
                if got is None:
                    continue
                if target == "items":
                    value = float(_count_items(got))
                elif target == "value":
                    value = _number(got, value)
                elif target == "product":
                    product = _bound(got, limit)
                elif target == "category":
                    category = _bound(got, limit)
                else:
                    text = _bound(got, limit)
        return ShopperEvent(kind, now, product, category, text, value)


def _union(patterns: Iterable[str]) -> re.Pattern[str] | None:
    # One alternation for a path-only test; named groups would clash, so they become plain.
    found = [re.sub(r"\(\?P<\w+>", "(?:", p) for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in found)) if found else None


def parse_query(query_string: bytes) -> dict[str, str]:
    """Percent-decoded ``key -> value`` of a query string; the first occurrence of a key wins."""
    out: dict[str, str] = {}
    if not query_string:
        return out
    text = query_string.decode("utf-8", "replace")
    for n, pair in enumerate(text.split("&")):
        if n >= MAX_QUERY_PAIRS:
            break
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key, errors="replace")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="replace")
        if key not in out:
            out[key] = value
    return out


def _bound(text: str, limit: int) -> str | None:
    text = text.strip()
    if not text:
        return None
    return text[:limit]


def _count_items(raw: str) -> int:
    # "a,b,c", "a, b", "111/222/333" (BigCommerce /compare/111/222) -> 3
    return sum(1 for part in re.split(r"[,/]", raw) if part.strip())


def _number(text: str, default: float) -> float:
    try:
        v = float(text)
    except ValueError:
        return default
    return v if math.isfinite(v) else default


def _is_static(path: str) -> bool:
    dot = path.rfind(".")
    if dot == -1 or dot < path.rfind("/"):
        return False
    return path[dot + 1 :].lower() in STATIC_EXTENSIONS


def _conds_hold(conds: tuple[_Cond, ...], query: dict[str, str]) -> bool:
    for cond in conds:
        if cond.key_prefix:
            if not any(k.startswith(cond.key) and _value_ok(cond, v) for k, v in query.items()):
                return False
        else:
            v = query.get(cond.key)
            if v is None or not _value_ok(cond, v):
                return False
    return True


def _value_ok(cond: _Cond, value: str) -> bool:
    if cond.present or value in cond.exact:
        return True
    return any(value.startswith(p) for p in cond.prefixes)


def _bucket(rules: list[_Rule]) -> tuple[dict[str, tuple[_Rule, ...]], tuple[_Rule, ...]]:
    """Rules grouped by first literal path segment; each group also holds, in order, the rules
    whose first segment is not literal (they may match any first segment)."""
    firsts: dict[str, list[_Rule]] = {r.first: [] for r in rules if r.first is not None}
    wild: list[_Rule] = []
    for rule in rules:  # already in priority order, which every group keeps
        if rule.first is None:
            wild.append(rule)
            for group in firsts.values():
                group.append(rule)
        else:
            firsts[rule.first].append(rule)
    return {k: tuple(v) for k, v in firsts.items()}, tuple(wild)


# -- compiling specs -------------------------------------------------------------------------


class _Path(NamedTuple):
    regex: str
    captures: tuple[str, ...]
    first: str | None
    literal_ext: bool
    literal_segments: int
    literal_chars: int
    multi: bool


def compile_path(pattern: str) -> _Path:
    """A path pattern as an anchored regex plus what ordering and bucketing need.

    Raises ``ValueError`` with the reason for a bad pattern.
    """
    if not pattern.startswith("/"):
        raise ValueError(f"bad pattern {pattern!r}: must start with '/'")
    if any(c in pattern for c in "?# \t\r\n"):
        raise ValueError(f"bad pattern {pattern!r}: no query, fragment or whitespace in a path")
    if pattern == "/":
        return _Path(r"\A/\Z", (), "", False, 1, 1, False)
    body = pattern[1:].rstrip("/") if pattern != "/" else ""
    if not body:
        raise ValueError(f"bad pattern {pattern!r}: empty")
    segments = body.split("/")
    out: list[str] = [r"\A"]
    captures: list[str] = []
    literal_segments = literal_chars = 0
    multi = False
    literal_ext = False
    for seg in segments:
        literal_ext = False
        if not seg:
            raise ValueError(f"bad pattern {pattern!r}: empty segment")
        if seg == "**":
            out.append(r"(?:/.*)?")
            multi = True
            continue
        whole = _NAME_RE.fullmatch(seg)
        if whole is not None and whole.group(1).endswith("+"):
            name = _capture_name(pattern, whole.group(1)[:-1], captures)
            out.append(f"/(?P<{name}>.+?)")
            multi = True
            continue
        out.append("/")
        pos = 0
        tail = ""
        for m in _NAME_RE.finditer(seg):
            out.append(_literal(pattern, seg[pos : m.start()]))
            name = _capture_name(pattern, m.group(1), captures)
            out.append(f"(?P<{name}>[^/]+)" if whole is not None else f"(?P<{name}>[^/]+?)")
            pos = m.end()
        tail = seg[pos:]
        out.append(_literal(pattern, tail))
        plain = seg.replace("*", "")
        plain = _NAME_RE.sub("", plain)
        literal_chars += len(plain)
        if whole is None and "*" not in seg and "{" not in seg:
            literal_segments += 1
        literal_ext = "*" not in tail and re.search(r"\.[A-Za-z0-9]+\Z", tail) is not None
    out.append(r"/?\Z")
    first_seg = segments[0]
    first = first_seg if not any(c in first_seg for c in "*{") else None
    return _Path(
        "".join(out), tuple(captures), first, literal_ext, literal_segments, literal_chars, multi
    )


def _literal(pattern: str, text: str) -> str:
    if "{" in text or "}" in text:
        raise ValueError(f"bad pattern {pattern!r}: unbalanced '{{' or '}}'")
    return "[^/]*".join(re.escape(part) for part in text.split("*"))


def _capture_name(pattern: str, name: str, seen: list[str]) -> str:
    if name.endswith("+"):
        raise ValueError(f"bad pattern {pattern!r}: '{{{name}}}' must be a whole segment")
    if name not in CAPTURES:
        raise ValueError(
            f"unknown capture {{{name}}} in {pattern!r} (expected one of {', '.join(CAPTURES)})"
        )
    if name in seen:
        raise ValueError(f"bad pattern {pattern!r}: {{{name}}} captured twice")
    seen.append(name)
    return name


def _compile_cond(key: str, spec: str) -> _Cond:
    key_prefix = key.endswith("*")
    if key_prefix:
        key = key[:-1]
    if spec == "*":
        return _Cond(key, key_prefix, True, frozenset(), ())
    exact = frozenset(a for a in spec.split("|") if not a.endswith("*"))
    prefixes = tuple(a[:-1] for a in spec.split("|") if a.endswith("*"))
    return _Cond(key, key_prefix, False, exact, prefixes)


def _compile_one(spec: RuleSpec, label: str, sort_key: tuple[int, ...]) -> _Rule:
    path = compile_path(spec.path)
    for target in spec.capture:
        if target in path.captures:
            raise ValueError(f"{target!r} is captured from both the path and the query")
    methods = (spec.method,) if isinstance(spec.method, str) else spec.method
    allowed = METHODS if "*" in methods else frozenset(m.upper() for m in methods)
    conds = tuple(_compile_cond(k, v) for k, v in spec.query.items())
    kind = None if spec.kind == IGNORE else EventKind.from_slug(spec.kind)
    return _Rule(
        label=label,
        kind=kind,
        regex=re.compile(path.regex),
        methods=frozenset(allowed),
        first=path.first,
        path_captures=path.captures,
        conds=conds,
        captures=tuple(spec.capture.items()),
        needs_query=bool(conds),
        value=spec.value,
        literal_ext=path.literal_ext,
        sort_key=(
            sort_key[0],
            -spec.priority,
            -len(conds),
            -path.literal_segments,
            int(path.multi),
            -path.literal_chars,
            sort_key[1],
        ),
    )


def _compile_group(
    specs: Iterable[RuleSpec | Mapping[str, Any]], source: str, *, group: int
) -> list[_Rule]:
    compiled: list[_Rule] = []
    for index, raw in enumerate(specs):
        name = raw.name if isinstance(raw, RuleSpec) else None
        if isinstance(raw, Mapping):
            got = raw.get("name")
            name = got if isinstance(got, str) else None
        where = f"{source}[{index}]" + (f" {name!r}" if name else "")
        if isinstance(raw, RuleSpec):
            spec = raw
        elif isinstance(raw, Mapping):
            try:
                spec = RuleSpec.model_validate(dict(raw))
            except ValidationError as exc:
                raise RuleError(f"rule {where}: {validation_reason(exc)}") from exc
        else:
            raise RuleError(f"rule {where}: must be a table of fields, not {type(raw).__name__}")
        try:
            compiled.append(_compile_one(spec, where, (group, index)))
        except ValueError as exc:
            raise RuleError(f"rule {where}: {exc}") from exc
    return compiled


