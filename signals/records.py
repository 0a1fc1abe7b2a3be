"""Event JSONL records (what the proxy records and ``intentgate fit``/``import`` read and write).

One object per line: ``{"session", "ts", "kind", "product", "category", "query", "value"}`` plus
an optional pseudonymous ``"user"``. Pure: dicts in, dicts out; the CLI does the file I/O.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from signals.events import EventKind, ShopperEvent

MAX_TEXT = 200


def event_to_record(session: str, ev: ShopperEvent, user: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "session": session, "ts": ev.ts, "kind": EventKind(ev.kind).slug,
        "product": ev.product, "category": ev.category, "query": ev.query, "value": ev.value,
    }
    if user is not None:
        rec["user"] = user
    return rec


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string or null")
    return value[:MAX_TEXT]


def record_to_event(obj: Any) -> tuple[str, ShopperEvent]:
    """Validate one decoded record; ``ValueError`` names what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("record is not a JSON object")
    session = obj.get("session")
    if isinstance(session, int) and not isinstance(session, bool):
        session = str(session)
    if not isinstance(session, str) or not session:
        raise ValueError("'session' missing or not a string")
    ts = obj.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise ValueError("'ts' missing or not a finite number")
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise ValueError("'kind' missing or not a string")
    value = obj.get("value", 0.0)
    if value is None:
        value = 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("'value' not a finite number")
    return session, ShopperEvent(
        EventKind.from_slug(kind), float(ts), _text(obj, "product"), _text(obj, "category"),
        _text(obj, "query"), float(value),
    )


def parse_line(line: bytes | str) -> tuple[str, ShopperEvent]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return record_to_event(obj)


def dumps(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec) + b"\n"
