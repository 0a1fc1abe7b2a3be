from __future__ import annotations

import pytest

from signals.events import EventKind, ShopperEvent
from signals.records import dumps, event_to_record, parse_line


def test_records_round_trip() -> None:
    ev = ShopperEvent(EventKind.SEARCH, 1700000000.5, None, "audio", "headphones", 0.0)
    line = dumps(event_to_record("tok", ev, user="u1"))
    assert parse_line(line) == ("tok", ev)


@pytest.mark.parametrize(("line", "needle"), [
    (b"{", "not JSON"),
    (b"[1]", "not a JSON object"),
    (b'{"ts": 1, "kind": "search"}', "session"),
    (b'{"session": "s", "ts": "x", "kind": "search"}', "ts"),
    (b'{"session": "s", "ts": 1, "kind": "teleport"}', "teleport"),
    (b'{"session": "s", "ts": 1, "kind": "search", "value": "NaN"}', "value"),
    (b'{"session": "s", "ts": 1, "kind": "search", "query": []}', "query"),
])
def test_records_bad_lines_name_the_problem(line: bytes, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_line(line)
