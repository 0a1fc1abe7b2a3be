"""The offline commands end to end: import, fit (events and access logs), evaluate, fit-bundled."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from classifiers.artifact import load_model
from proxy.cli import main
from signals.events import EventKind as K
from signals.records import dumps, event_to_record
from tests.factories import event

T = 1_700_000_000.0


def _write_sessions(path: Path, n: int = 120, seed: int = 0) -> None:
    """Three kinds of shopper with clearly different behaviour."""
    rng = random.Random(seed)
    lines = []
    for s in range(n):
        kind = s % 3
        t = T + s * 5000
        evs = []
        for i in range(5):
            k = (K.COMPARE, K.SEARCH, K.CART_ADD)[kind]
            jitter = rng.uniform(0.0, 2.0)
            evs.append(event(K.PRODUCT_VIEW, t + 20 * i + jitter, f"p{i}"))
            evs.append(event(k, t + 20 * i + 5 + jitter))
        if kind == 2 and s % 2:
            evs.append(event(K.PURCHASE, t + 500))
        lines += [dumps(event_to_record(f"s{s}", ev)) for ev in evs]
    path.write_bytes(b"".join(lines) + b"not json\n")


def test_fit_writes_a_model_and_report_and_is_deterministic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    out1, out2 = tmp_path / "m1.json", tmp_path / "m2.json"
    assert main(["fit", str(events), "--out", str(out1), "--max-k", "5"]) == 0
    printed = capsys.readouterr().out
    assert "silhouette" in printed and "1 malformed lines skipped" in printed
    assert main(["fit", str(events), "--out", str(out2), "--max-k", "5"]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    model = load_model(out1.read_bytes())
    assert len(model.slugs) == 3  # three behaviours, three classes
    assert out1.with_suffix(".html").read_text().startswith("<!doctype html>")


def test_fit_labels_rename_classes(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    first = tmp_path / "m.json"
    main(["fit", str(events), "--out", str(first), "--max-k", "4"])
    slug = load_model(first.read_bytes()).slugs[0]
    labels = tmp_path / "labels.toml"
    labels.write_text(f'"{slug}" = "Our favourite shoppers"\n')
    renamed = tmp_path / "r.json"
    assert main(["fit", str(events), "--out", str(renamed), "--max-k", "4",
                 "--labels", str(labels)]) == 0
    cards = orjson.loads(renamed.read_bytes())["classes"]
    assert "Our favourite shoppers" in {c["display_name"] for c in cards}


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "no valid events"),
    (dumps(event_to_record("only", event(K.SEARCH, T))), "too little data"),
])
def test_fit_refuses_empty_or_tiny_input(tmp_path: Path, content: bytes, needle: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(content)
    assert main(["fit", str(events), "--out", str(tmp_path / "m.json")]) == 2
    assert needle in capsys.readouterr().err


def test_fit_reads_access_logs_through_a_preset(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "access.log"
    rows = []
    for s in range(90):
        ip = f"10.1.{s // 200}.{s % 200}"
        for i in range(5):
            minute = f"{(s * 7 + i) % 60:02d}"
            path = ("/pages/compare?products=a,b" if s % 3 == 0 else
                    "/search?q=tv" if s % 3 == 1 else "/products/p" + str(i))
            rows.append(f'{ip} - - [22/Nov/2026:1{s % 10}:{minute}:00 +0000] "GET {path} '
                        f'HTTP/1.1" 200 10 "-" "Mozilla/5.0"')
    rows.append("broken line")
    log.write_text("\n".join(rows) + "\n")
    out = tmp_path / "m.json"
    assert main(["fit", str(log), "--input", "access-log", "--preset", "demo", "--out",
                 str(out), "--max-k", "4"]) == 0
    report = orjson.loads(out.read_bytes())["report"]
    notes = " ".join(report["notes"])
    assert "approximated by client address + user agent" in notes
    assert "1 malformed lines skipped" in notes


def test_evaluate_prints_purchase_rate_by_class(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    model = tmp_path / "m.json"
    main(["fit", str(events), "--out", str(model), "--max-k", "4"])
    capsys.readouterr()
    assert main(["evaluate", str(model), str(events)]) == 0
    out = capsys.readouterr().out
    assert "before their first purchase" in out and "lift" in out.lower()


def test_import_writes_event_jsonl(shared_data: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "otto.jsonl"
    src = shared_data / "otto-recsys-test-sample" / "train.jsonl"
    assert main(["import", "--format", "otto", str(src), "--out", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 862 and orjson.loads(lines[0])["kind"] == "product_view"
    assert "lacks:" in capsys.readouterr().err


def test_fit_bundled_rebuilds_the_shipped_model_byte_for_byte(shared_data: Path,
                                                              tmp_path: Path) -> None:
    from proxy.offline import BUNDLED_PATH

    out = tmp_path / "model.json"
    assert main(["fit-bundled", "--data-dir", str(shared_data), "--out", str(out)]) == 0
    assert out.read_bytes() == BUNDLED_PATH.read_bytes()
