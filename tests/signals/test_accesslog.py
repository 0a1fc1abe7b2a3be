from __future__ import annotations

from signals.accesslog import AccessLogCounts, parse_line, replay_log
from signals.routes import RouteTable

LINES = [
    '10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /products/phone-pro HTTP/1.1" 200 512 '
    '"-" "Mozilla/5.0"',
    '10.0.0.1 - - [22/Nov/2026:10:00:30 +0000] "GET /search?q=usb%20cable HTTP/1.1" 200 9 '
    '"-" "Mozilla/5.0"',
    '10.0.0.1 - - [22/Nov/2026:10:01:00 +0000] "GET /products/ghost HTTP/1.1" 404 9 '
    '"-" "Mozilla/5.0"',
    '10.0.0.1 - - [22/Nov/2026:11:30:00 +0000] "POST /cart/add.js HTTP/1.1" 200 9 '
    '"-" "Mozilla/5.0"',
    '10.0.0.2 - - [22/Nov/2026:10:00:00 +0000] "GET /collections/audio?sort_by=price-ascending '
    'HTTP/1.1" 200 9 "-" "Mozilla/5.0" "ig_sid=abc; other=1"',
    '10.0.0.3 - - [22/Nov/2026:10:00:00 +0000] "GET /products/x HTTP/1.1" 200 9 "-" "Googlebot"',
    "this is not a log line",
    '10.0.0.1 - - [99/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 9 "-" "-"',
    '10.0.0.1 - - [22/Nov/2026:10:02:00 +0000] "GET /assets/app.css HTTP/1.1" 200 9 "-" "M"',
]


def test_accesslog_parses_combined_format_with_an_optional_session_field() -> None:
    line = parse_line(LINES[4])
    assert line is not None and line.session == "abc" and line.status == 200
    assert line.path == "/collections/audio" and line.query == b"sort_by=price-ascending"
    assert parse_line(LINES[0]).session is None  # type: ignore[union-attr]
    assert parse_line("garbage") is None and parse_line(LINES[7]) is None


def test_accesslog_replay_counts_and_skips_and_sessionizes() -> None:
    counts = AccessLogCounts()
    records = list(replay_log(LINES, RouteTable.from_config("auto"), counts,
                              pseudonym=lambda k: "p:" + str(abs(hash(k)) % 10**8),
                              is_bot=lambda agent: "bot" in agent.lower()))
    kinds = [r["kind"] for r in records]
    assert kinds == ["product_view", "search", "cart_add", "price_sort_or_filter"]
    assert records[1]["query"] == "usb cable"
    # 90 minutes after the first visit from 10.0.0.1 starts a new approximated visit.
    assert records[0]["session"] == records[1]["session"] != records[2]["session"]
    assert counts.malformed == 2 and counts.errors == 1 and counts.bots == 1
    assert counts.no_event == 1 and counts.approximated == 3 and counts.events == 4
    assert all("10.0.0" not in r["session"] for r in records)  # addresses never leave
