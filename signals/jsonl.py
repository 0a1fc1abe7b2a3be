"""One writer's append-only JSONL file, rotated by size: the recorded events and the audit log.

``<stem>.jsonl`` (or ``<stem>-<writer>.jsonl`` when several workers write beside each other, one
file each) is the current file; at ``max_bytes`` it becomes ``….1``, what was ``….1`` becomes
``….2`` and so on, ``keep`` files in all (with ``keep = 1`` the full file is dropped). Every
append takes an exclusive ``flock``, so a process rewriting the file in place under the same lock
(the audit log's erasure) never loses an append. Writes are unbuffered: the caller batches, and
bytes a full disk refused are not kept to fail again when the file is closed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO


class RotatingFile:
    __slots__ = ("directory", "stem", "max_bytes", "keep", "writer", "fh", "size")

    def __init__(self, directory: Path, stem: str, *, max_bytes: int, keep: int,
                 writer: int | None = None) -> None:
        if keep < 1 or max_bytes < 1:
            raise ValueError("keep and max_bytes must be at least 1")
        self.directory = Path(directory)
        self.stem = stem
        self.max_bytes = max_bytes
        self.keep = keep
        self.writer = writer
        self.fh: IO[bytes] | None = None
        self.size = 0

    @property
    def path(self) -> Path:
        name = f"{self.stem}.jsonl" if self.writer is None else f"{self.stem}-{self.writer}.jsonl"
        return self.directory / name

    def own_files(self) -> list[Path]:
        """This writer's files that exist, newest first."""
        p = self.path
        paths = [p] + [p.with_name(f"{p.name}.{i}") for i in range(1, self.keep)]
        return [q for q in paths if q.exists()]

    def open(self) -> IO[bytes]:
        """The current file, opened for appending (once; again after a rotation)."""
        if self.fh is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.fh = self.path.open("ab", buffering=0)
            self.size = self.fh.tell()
        return self.fh

    def append(self, data: bytes) -> bool:
        """Write ``data`` under the lock; True when it filled the file and the file rotated.
        Raises ``OSError`` (a full disk, a removed directory): the caller counts the loss."""
        fh = self.open()
        view = memoryview(data)
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            while view:  # a raw write may take only part of it
                view = view[fh.write(view) or 0:]
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        self.size += len(data)
        if self.size < self.max_bytes:
            return False
        self.rotate()
        return True

    def rotate(self) -> None:
        self.close()
        p = self.path
        # The oldest falls off; every other file moves one place up.
        for i in range(self.keep - 1, 0, -1):
            src = p if i == 1 else p.with_name(f"{p.name}.{i - 1}")
            if src.exists():
                os.replace(src, p.with_name(f"{p.name}.{i}"))
        if self.keep == 1:
            p.unlink(missing_ok=True)

    def flush(self) -> None:
        """Nothing is held back (unbuffered writes); kept for the readers' "flush, then read"."""

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def drop_lines(path: Path, drop: Callable[[bytes], bool]) -> int:
    """Remove the lines of ``path`` for which ``drop(line)`` is true; returns how many. The file
    is rewritten in place under the writers' lock, so it keeps its inode and a writer's open
    append handle stays valid: no append is lost. A missing file has nothing to drop."""
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        return 0
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            lines = fh.read().splitlines(keepends=True)
            kept = [line for line in lines if not drop(line)]
            if len(kept) != len(lines):
                fh.seek(0)
                fh.write(b"".join(kept))
                fh.truncate()
                fh.flush()
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return len(lines) - len(kept)
