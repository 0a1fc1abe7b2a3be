"""Tests for proxy/recorder.py: JSONL lines, the bounded buffer, rotation, drops counted."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.recorder import EventRecorder
from signals.identity import IdentityCodec
from signals.jsonl import RotatingFile
from tests.factories import event

CODEC = IdentityCodec(b"r" * 32)
SESSION = "raw-session-token"


def _recorder(directory: Path, **kw: object) -> EventRecorder:
    options: dict[str, object] = {"codec": CODEC, "max_bytes": 1 << 20, "keep": 3}
    options.update(kw)
    return EventRecorder(directory, **options)  # type: ignore[arg-type]


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_recorder_writes_pseudonymous_jsonl_on_close(tmp_path: Path) -> None:
    rec = _recorder(tmp_path / "ev")
    rec.open()
    rec.record(SESSION, event("product_view", 10.0, product="mug"))
    rec.record(SESSION, event("search", 11.0, query="red mug"))
    rec.close()
    lines = _lines(tmp_path / "ev" / "events.jsonl")
    assert [ln["kind"] for ln in lines] == ["product_view", "search"]
    assert lines[0]["product"] == "mug" and lines[1]["query"] == "red mug"
    assert lines[0]["session"] == lines[1]["session"] == CODEC.pseudonym("s:" + SESSION)
    assert SESSION not in (tmp_path / "ev" / "events.jsonl").read_text()
    assert rec.written == 2 and rec.dropped == 0


def test_recorder_can_leave_search_text_out(tmp_path: Path) -> None:
    rec = _recorder(tmp_path, allow_query_text=False)
    rec.open()
    rec.record(SESSION, event("search", 1.0, query="my address"))
    rec.close()
    (line,) = _lines(tmp_path / "events.jsonl")
    assert line["kind"] == "search" and line["query"] is None


def test_recorder_tags_each_line_with_the_tagger(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec.tagger = lambda session: {"group": "holdout"} if session == SESSION else None
    rec.open()
    rec.record(SESSION, event("product_view", 1.0))
    rec.record("other", event("product_view", 2.0))
    rec.close()
    first, second = _lines(tmp_path / "events.jsonl")
    assert first["group"] == "holdout" and "group" not in second


def test_recorder_buffer_is_bounded_and_drops_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("proxy.recorder._MAX_BUFFERED", 3)
    rec = _recorder(tmp_path)  # never opened: nothing can be written, the buffer only fills
    for i in range(5):
        rec.record(SESSION, event("product_view", float(i)))
    assert rec.dropped == 2 and rec.written == 0
    rec.open()
    rec.close()
    assert [ln["ts"] for ln in _lines(tmp_path / "events.jsonl")] == [0.0, 1.0, 2.0]
    assert rec.written == 3


def test_recorder_rotates_by_size_and_keeps_keep_files(tmp_path: Path) -> None:
    rec = _recorder(tmp_path, max_bytes=200, keep=3)
    rec.open()
    for i in range(12):
        rec.record(SESSION, event("product_view", float(i), product=f"p{i}"))
        rec.flush()  # one line per flush: each write may rotate
    rec.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    # Every kept file is under the limit plus one flush; the oldest lines fell off.
    kept = [ln["ts"] for name in reversed(names) for ln in _lines(tmp_path / name)]
    assert kept == sorted(kept) and kept[-1] == 11.0 and 0.0 not in kept
    assert rec.written == 12


def _on_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EventRecorder:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("needs /dev/full")
    # The recorder's file is /dev/full, opened as the recorder opens any file: every write
    # fails with ENOSPC.
    monkeypatch.setattr(RotatingFile, "path", property(lambda self: full))
    rec = _recorder(tmp_path)
    rec.open()
    return rec


def test_recorder_full_disk_drops_and_counts_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = _on_full_disk(tmp_path, monkeypatch)
    rec.record(SESSION, event("product_view", 1.0))
    rec.record(SESSION, event("product_view", 2.0))
    rec.flush()
    assert rec.dropped == 2 and rec.written == 0
    rec.close()


def test_recorder_close_after_a_full_disk_does_not_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bytes the disk refused are not held to fail again at shutdown.
    rec = _on_full_disk(tmp_path, monkeypatch)
    rec.record(SESSION, event("product_view", 1.0))
    rec.flush()
    rec.close()
    assert rec._file.fh is None


def test_recorder_each_worker_writes_its_own_file(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec.writer = 4242
    rec.open()
    rec.record(SESSION, event("product_view", 1.0))
    rec.close()
    assert [p.name for p in tmp_path.iterdir()] == ["events-4242.jsonl"]
