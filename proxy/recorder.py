"""Recording shopper events to rotating JSONL files, the format ``intentgate fit`` reads.

The request path only appends an encoded line to a bounded in-memory buffer; the buffer is
written out when it grows past a few KiB and on close, and files rotate by size (``events.jsonl``,
``events.jsonl.1`` …, ``keep`` files in all). When the buffer is full the event is dropped and
counted. Session tokens are pseudonymised with the proxy's keyed hash: no raw cookie, IP or user
id is ever written.

Several workers: each writes its own ``events-<pid>.jsonl`` (``writer`` set before ``open``), so
every file has one writer; readers take ``events*.jsonl*``. Appends take an exclusive ``flock``,
as does the erasure's in-place rewrite.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from signals.events import ShopperEvent
from signals.identity import IdentityCodec
from signals.jsonl import RotatingFile
from signals.ratelog import RateLimitedLog
from signals.records import event_to_record

logger = logging.getLogger(__name__)

_FLUSH_BYTES = 64 * 1024
_FLUSH_SECONDS = 1.0
_MAX_BUFFERED = 10_000


class EventRecorder:
    def __init__(
        self, directory: Path, *, codec: IdentityCodec, max_bytes: int, keep: int,
        allow_query_text: bool = True,
        tagger: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.directory = directory
        self.codec = codec
        self.allow_query_text = allow_query_text
        self.dropped = 0
        self.written = 0
        self._buf: list[bytes] = []
        self._buffered = 0
        self._file = RotatingFile(directory, "events", max_bytes=max_bytes, keep=keep)
        self._flushed_at = 0.0
        self._log = RateLimitedLog(logger)  # a full disk fails every flush: one line per 10 s
        # Extra fields for a session's lines (proxy.experiments: its experiment and group, so
        # ``intentgate lift`` can report from recorded events); None: none.
        self.tagger = tagger

    @property
    def writer(self) -> int | None:
        """Several workers: this one's pid (its own files); set before ``open``."""
        return self._file.writer

    @writer.setter
    def writer(self, pid: int | None) -> None:
        self._file.writer = pid

    @property
    def path(self) -> Path:
        return self._file.path

    def open(self) -> None:
        self._file.open()

    def record(self, session: str, event: ShopperEvent) -> None:
        if len(self._buf) >= _MAX_BUFFERED:
            self.dropped += 1
            return
        if not self.allow_query_text and event.query is not None:
            event = event._replace(query=None)
        rec = event_to_record(self.codec.pseudonym("s:" + session), event)
        if self.tagger is not None:
            tags = self.tagger(session)
            if tags:
                rec.update(tags)
        line = orjson.dumps(rec) + b"\n"
        self._buf.append(line)
        self._buffered += len(line)
        now = time.monotonic()
        if self._buffered >= _FLUSH_BYTES or now - self._flushed_at >= _FLUSH_SECONDS:
            self._flushed_at = now
            self.flush()

    def flush(self) -> None:
        if not self._buf or self._file.fh is None:
            return
        data = b"".join(self._buf)
        self._buf.clear()
        self._buffered = 0
        try:
            self._file.append(data)
        except OSError as exc:  # a full disk drops records, never requests
            self.dropped += data.count(b"\n")
            self._log.error("event recording failed: %s", exc)
            return
        self.written += data.count(b"\n")
        if self._file.fh is None:  # rotated: the next file, opened now (open() was called)
            self._file.open()

    def close(self) -> None:
        self.flush()
        self._file.close()
