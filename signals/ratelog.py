"""A log that writes at most one line per key every ``interval`` seconds and counts the lines it
held back: how the fail-open guard, the audit writers, governance and the exporters report a
failure that may repeat on every request without flooding the log.

It reads a monotonic clock, the one clock in signals outside the stores; the clock is injected
(``time.monotonic`` by default), so tests step it instead of sleeping. Keys should come from a
small fixed set (reasons, not request data): each key keeps one timestamp for the process's life.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """At most one line per ``key`` every ``interval`` seconds, on ``logger``. A line that goes
    out after some were held back ends with ``(N similar suppressed)``."""

    __slots__ = ("logger", "interval", "clock", "_last", "_held")

    def __init__(
        self, logger: logging.Logger, interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval >= 0.0:
            raise ValueError(f"interval must be at least 0 seconds, got {interval!r}")
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def log(self, level: int, msg: str, *args: object, key: str = "") -> bool:
        """Log ``msg % args`` at ``level`` unless a line with ``key`` went out less than
        ``interval`` seconds ago; True when it was written."""
        return self._emit(level, msg, args, key)

    def warning(self, msg: str, *args: object, key: str = "") -> bool:
        return self._emit(logging.WARNING, msg, args, key)

    def error(self, msg: str, *args: object, key: str = "") -> bool:
        return self._emit(logging.ERROR, msg, args, key)

    def suppressed(self, key: str = "") -> int:
        """How many lines with ``key`` were held back since the last one written."""
        return self._held.get(key, 0)

    def _emit(self, level: int, msg: str, args: tuple[object, ...], key: str) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        # stacklevel 3: the record names the caller of log/warning/error, not this module.
        if held:
            self.logger.log(level, msg + " (%d similar suppressed)", *args, held, stacklevel=3)
        else:
            self.logger.log(level, msg, *args, stacklevel=3)
        return True
