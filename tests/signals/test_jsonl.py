"""signals.jsonl.RotatingFile: rotation by size, keep, one file per writer, appends that an
in-place rewrite under the same lock does not lose."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from signals.jsonl import RotatingFile


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., RotatingFile]]:
    made: list[RotatingFile] = []

    def build(stem: str, **kwargs: int) -> RotatingFile:
        made.append(RotatingFile(tmp_path, stem, **kwargs))
        return made[-1]

    yield build
    for f in made:
        f.close()


def test_rotates_at_max_bytes_and_keeps_keep_files_newest_first(
    tmp_path: Path, make: Callable[..., RotatingFile],
) -> None:
    f = make("events", max_bytes=10, keep=3)
    rotated = [f.append(f"{i:09d}\n".encode()) for i in range(5)]  # 10 bytes each
    assert rotated == [True] * 5
    f.open()
    assert f.path == tmp_path / "events.jsonl" and f.path.read_bytes() == b""
    assert [p.name for p in f.own_files()] == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert (tmp_path / "events.jsonl.1").read_bytes() == b"000000004\n"
    assert (tmp_path / "events.jsonl.2").read_bytes() == b"000000003\n"
    assert not (tmp_path / "events.jsonl.3").exists()  # the oldest fell off


def test_keep_one_drops_the_full_file(make: Callable[..., RotatingFile]) -> None:
    f = make("audit", max_bytes=4, keep=1)
    assert f.append(b"abc\n")
    assert f.own_files() == []
    assert not f.append(b"x\n")
    assert f.path.read_bytes() == b"x\n"


def test_each_writer_has_its_own_file_and_size_survives_reopening(
    make: Callable[..., RotatingFile],
) -> None:
    a = make("audit", max_bytes=100, keep=2, writer=41)
    a.append(b"0123456789\n")
    a.close()
    again = make("audit", max_bytes=100, keep=2, writer=41)
    again.open()
    assert again.path.name == "audit-41.jsonl" and again.size == 11


def test_an_in_place_rewrite_under_the_lock_keeps_later_appends(
    make: Callable[..., RotatingFile],
) -> None:
    f = make("audit", max_bytes=1 << 20, keep=2)
    f.append(b"secret\nkept\n")
    with f.path.open("r+b") as other:  # as the audit log's erasure does, from any process
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        kept = [ln for ln in other.read().splitlines(keepends=True) if b"secret" not in ln]
        other.seek(0)
        other.write(b"".join(kept))
        other.truncate()
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    f.append(b"after\n")
    assert f.path.read_bytes() == b"kept\nafter\n"


def test_bad_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RotatingFile(tmp_path, "x", max_bytes=0, keep=1)
