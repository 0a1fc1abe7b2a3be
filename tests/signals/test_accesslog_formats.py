"""Access logs as shops write them: every supported format, escaped quotes, redirects."""

from __future__ import annotations

from signals.accesslog import AccessLogCounts, nothing_parsed, parse_line, replay_log
from signals.routes import RouteTable

T = "[22/Nov/2026:10:00:00 +0000]"


def test_common_combined_and_session_formats_are_detected() -> None:
    common = parse_line(f'1.2.3.4 - - {T} "GET /p/1 HTTP/1.1" 200 512')
    combined = parse_line(f'1.2.3.4 - frank {T} "GET /p/1?a=b HTTP/1.1" 200 - "-" "UA/1"')
    session = parse_line(f'1.2.3.4 - - {T} "GET /p/1 HTTP/1.1" 200 5 "-" "UA/1" "s123"')
    assert common is not None and common.format == "common" and common.agent == ""
    assert combined is not None and combined.format == "combined" and combined.query == b"a=b"
    assert session is not None and session.format == "combined+session"
    assert session.session == "s123"
    assert common.ts == 1795341600.0  # 2026-11-22T10:00:00Z


def test_escaped_quotes_inside_fields_parse() -> None:
    # Apache/gunicorn escape a quote as \" ; nginx as \x22. Both inside a Cookie header field.
    apache = (f'1.2.3.4 - - {T} "POST /bag/items HTTP/1.1" 303 0 "https://s/\\"x\\"" '
              '"Mozilla \\"quoted\\" agent" "pref=\\"a;b\\"; ig_sid=abc123; x=1"')
    nginx = (f'1.2.3.4 - - {T} "GET / HTTP/1.1" 200 9 "-" "UA" '
             '"consent=\\x22yes\\x22; ig_sid=zz9"')
    a = parse_line(apache)
    n = parse_line(nginx)
    assert a is not None and a.session == "abc123" and a.agent == 'Mozilla "quoted" agent'
    assert a.status == 303 and a.method == "POST"
    assert n is not None and n.session == "zz9"


def test_uvicorn_default_lines_with_and_without_colours() -> None:
    plain = parse_line('INFO:     127.0.0.1:53422 - "GET /s?query=red HTTP/1.1" 200 OK', 
                       untimed_ts=5.0)
    coloured = parse_line('\x1b[32mINFO\x1b[0m:     10.1.1.1:1 - "POST /bag/items HTTP/1.1" '
                          '\x1b[36m303 See Other\x1b[0m')
    assert plain is not None and plain.format == "uvicorn" and plain.path == "/s"
    assert plain.ts == 5.0 and plain.client == "127.0.0.1" and plain.query == b"query=red"
    assert coloured is not None and coloured.status == 303 and coloured.method == "POST"


def test_json_lines_nginx_escape_json_and_other_loggers() -> None:
    nginx = ('{"time_local":"22/Nov/2026:10:00:00 +0000","remote_addr":"1.2.3.4",'
             '"request":"GET /c/a/b?sort=price-asc HTTP/1.1","status":"200",'
             '"http_user_agent":"UA \\"x\\"","cookie_ig_sid":"sid1"}')
    other = ('{"time":"2026-11-22T10:00:01Z","method":"post","path":"/bag/items",'
             '"status_code":303,"http_cookie":"a=1; ig_sid=sid2"}')
    a = parse_line(nginx)
    b = parse_line(other)
    assert a is not None and a.format == "json" and a.session == "sid1"
    assert a.query == b"sort=price-asc" and a.agent == 'UA "x"' and a.ts == 1795341600.0
    assert b is not None and b.method == "POST" and b.session == "sid2" and b.status == 303
    assert b.ts == 1795341601.0
    assert parse_line('{"no": "request"}') is None and parse_line("[1, 2]") is None


def test_nothing_parsed_names_the_format_and_the_first_line() -> None:
    counts = AccessLogCounts()
    out = list(replay_log(["<html>not a log</html>", "neither"], RouteTable.from_config("demo"),
                          counts, pseudonym=str))
    assert out == []
    msg = nothing_parsed(counts, "shop.log")
    assert msg is not None and "combined" in msg and "'<html>not a log</html>'" in msg
    assert "\n" not in msg
    ok = AccessLogCounts()
    list(replay_log([f'1.2.3.4 - - {T} "GET / HTTP/1.1" 200 1'], RouteTable.from_config("demo"),
                    ok, pseudonym=str))
    assert nothing_parsed(ok, "x") is None


def test_redirected_pages_make_no_event_but_redirected_actions_do() -> None:
    lines = [
        f'1.2.3.4 - - {T} "GET /products/old-slug HTTP/1.1" 301 0 "-" "UA" "s1"',
        f'1.2.3.4 - - {T} "POST /cart/add HTTP/1.1" 303 0 "-" "UA" "s1"',
        f'1.2.3.4 - - {T} "GET /products/new-slug HTTP/1.1" 200 9 "-" "UA" "s1"',
        f'1.2.3.4 - - {T} "GET / HTTP/1.1" 302 0 "-" "UA" "s1"',
    ]
    counts = AccessLogCounts()
    recs = list(replay_log(lines, RouteTable.from_config("demo"), counts, pseudonym=str))
    assert [r["kind"] for r in recs] == ["cart_add", "product_view"]
    assert counts.redirects == 2


def test_counts_add_up_file_by_file() -> None:
    a, b = AccessLogCounts(), AccessLogCounts()
    list(replay_log([f'1.2.3.4 - - {T} "GET / HTTP/1.1" 200 1', "junk"],
                    RouteTable.from_config("demo"), a, pseudonym=str))
    list(replay_log([f'1.2.3.4 - - {T} "GET /x HTTP/1.1" 404 1'],
                    RouteTable.from_config("demo"), b, pseudonym=str))
    a.add(b)
    assert (a.lines, a.malformed, a.errors, a.formats) == (3, 1, 1, {"common": 2})
