"""``intentgate routes suggest|test`` and ``--config`` for the offline commands, on the access log
of a storefront no preset covers (tests/altshop.py), browsed by scripted shoppers."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from proxy.commands.cli import main
from signals.accesslog import parse_line
from signals.events import PAGE_KINDS
from signals.routes import RouteTable
from tests.altshop import HAND_RULES, browse, create_altshop
from tests.servers import serve_in_thread


@pytest.fixture(scope="module")
def shop_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    lines: list[str] = []
    with serve_in_thread(create_altshop(lines.append)) as base:
        browse(base, shoppers=40, seed=3)
    path = tmp_path_factory.mktemp("altshop") / "access.log"
    path.write_text("\n".join(lines) + "\n")
    yield path


@pytest.fixture(scope="module")
def hand_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "shop.toml"
    path.write_text(HAND_RULES)
    return path


def _kinds(config: dict[str, object], log: Path) -> list[tuple[str | None, str]]:
    """What a rule set makes of each log line, with the proxy's status rules."""
    table = RouteTable.from_config(str(config.get("preset", "auto")),
                                   config.get("rules", []))  # type: ignore[arg-type]
    out = []
    for text in log.read_text().splitlines():
        line = parse_line(text)
        assert line is not None
        ev = table.match(line.method, line.path, line.query, 0.0)
        kind = None
        if ev is not None and line.status < 400 and not (
                300 <= line.status < 400 and ev.kind in PAGE_KINDS):
            kind = ev.kind.slug
        out.append((kind, f"{line.method} {line.path}"))
    return out


def _suggest(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["routes", "suggest", *args]) == 0
    return capsys.readouterr().out


def test_suggested_rules_recognise_what_hand_written_rules_do(
        shop_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _suggest(capsys, str(shop_log))
    suggested = tomllib.loads(text)  # a ready config file
    hand = tomllib.loads(HAND_RULES)
    want = _kinds(hand, shop_log)
    got = _kinds(suggested, shop_log)
    events = [(w, g) for w, g in zip(want, got, strict=True) if w[0] not in (None, "page_view")]
    same = sum(1 for w, g in events if w[0] == g[0])
    assert len(events) > 300
    assert same / len(events) >= 0.9, [(w, g) for w, g in events if w[0] != g[0]][:10]
    # Never a wrong purchase or cart rule.
    for w, g in zip(want, got, strict=True):
        if g[0] in ("purchase", "cart_add", "cart_remove"):
            assert g[0] == w[0], (w, g)
    kinds = {r["kind"] for r in suggested["rules"]}
    assert {"product_view", "category_view", "search", "cart_add", "purchase",
            "price_sort_or_filter", "ignore"} <= kinds
    # Each rule carries its evidence: counts, examples and a confidence.
    block = text.split('kind = "purchase"')[0].rsplit("# purchase", 1)[1]
    assert "confidence" in block and "requests" in block and "e.g. /order/" in block


def test_no_purchase_rule_without_strong_evidence(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # A "success" page that nobody reaches from a POST: listed, never proposed.
    log = tmp_path / "a.log"
    log.write_text("".join(
        f'10.0.0.{i} - - [22/Nov/2026:10:00:{i:02d} +0000] "GET /newsletter/success HTTP/1.1" '
        f'200 9 "-" "UA"\n' for i in range(20)))
    text = _suggest(capsys, str(log))
    assert 'kind = "purchase"' not in text
    assert "not proposed" in text and "/newsletter/success" in text


def test_suggest_with_config_mines_only_what_the_rules_miss(
        shop_log: Path, hand_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _suggest(capsys, str(shop_log), "--config", str(hand_config))
    assert "already decided by the rules" in text and "preset =" not in text
    assert 'kind = "product_view"' not in text  # the hand rules have it


def test_suggest_names_the_format_when_nothing_parses(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "app.log"
    log.write_text("2026-11-22 10:00:00 worker started\nmore noise\n")
    assert main(["routes", "suggest", str(log)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "combined" in err and "worker started" in err


def test_routes_test_one_request(hand_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "test", "--config", str(hand_config), "GET",
                 "/de/p/12-blue-lamp.html"]) == 0
    out = capsys.readouterr().out
    assert "rules[0] 'product'" in out and "product_view" in out and "'12-blue-lamp'" in out
    assert main(["routes", "test", "--config", str(hand_config), "GET", "/p/1-x.html",
                 "301"]) == 0
    assert "redirect is not a page view" in capsys.readouterr().out
    assert main(["routes", "test", "--config", str(hand_config), "GET"]) == 2
    assert "expected METHOD URL" in capsys.readouterr().err
    assert main(["routes", "test", "--config", str(tmp_path_missing := "nope.toml"), "GET",
                 "/"]) == 2
    assert tmp_path_missing in capsys.readouterr().err


def test_routes_test_reads_many_requests_from_stdin(
        hand_config: Path, shop_log: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first_log_line = shop_log.read_text().splitlines()[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "POST /bag/items 303\nGET /s?query=red+lamp\nGET /c/home/lamps/?sort=price-asc 200\n"
        f"{first_log_line}\nnonsense here now\n"))
    assert main(["routes", "test", "--config", str(hand_config), "-"]) == 0
    rows = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["cart_add", "search", "price_sort_or_filter", None,
                                         None]
    assert rows[0] == {"method": "POST", "url": "/bag/items", "status": 303,
                       "rule": "rules[7] 'bag-add'", "kind": "cart_add", "captures": {}}
    assert rows[1]["captures"] == {"query": "red lamp"} and rows[1]["status"] is None
    assert rows[3]["status"] == 302 and "redirect" in rows[3]["why"]
    assert "expected METHOD URL" in rows[4]["why"]


def test_fit_evaluate_and_import_take_the_shops_config(
        shop_log: Path, hand_config: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.json"
    assert main(["fit", str(shop_log), "--input", "access-log", "--config", str(hand_config),
                 "--out", str(model), "--max-k", "3"]) == 0
    notes = " ".join(orjson.loads(model.read_bytes())["report"]["notes"])
    assert f"rules of {hand_config}" in notes and "redirected page views" in notes
    capsys.readouterr()
    assert main(["evaluate", str(model), str(shop_log), "--input", "access-log", "--config",
                 str(hand_config)]) == 0
    assert "sessions classified" in capsys.readouterr().out
    events = tmp_path / "e.jsonl"
    assert main(["import", "--format", "access-log", str(shop_log), "--config",
                 str(hand_config), "--out", str(events)]) == 0
    kinds = {orjson.loads(x)["kind"] for x in events.read_text().splitlines()}
    assert {"purchase", "cart_add", "product_view", "search"} <= kinds
    assert main(["fit", str(shop_log), "--input", "access-log", "--preset", str(hand_config),
                 "--out", str(model)]) == 2
    assert "use --config" in capsys.readouterr().err
