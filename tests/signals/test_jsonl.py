"""signals.jsonl.RotatingFile: rotation by size, keep, one file per writer, appends that an
in-place rewrite under the same lock does not lose."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from signals.jsonl import RotatingFile, drop_lines


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


def test_dropping_lines_in_place_keeps_the_writers_later_appends(
    tmp_path: Path, make: Callable[..., RotatingFile],
) -> None:
    f = make("audit", max_bytes=1 << 20, keep=2)
    f.append(b"secret\nkept\nsecret too\n")
    # As an erasure does, from any process: the file keeps its inode, so the writer's open
    # handle appends after what is left.
    assert drop_lines(f.path, lambda line: b"secret" in line) == 2
    f.append(b"after\n")
    assert f.path.read_bytes() == b"kept\nafter\n"
    assert drop_lines(f.path, lambda line: False) == 0
    assert drop_lines(tmp_path / "never-written.jsonl", lambda line: True) == 0


def test_bad_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RotatingFile(tmp_path, "x", max_bytes=0, keep=1)
