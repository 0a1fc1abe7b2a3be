"""The background tasks behind the request path, started and stopped one way.

``Periodic`` runs one step every ``interval`` seconds until stopped, and a step that raises is
handed to ``on_error`` while the loop goes on (a writer-behind must never die). ``stop`` cancels
a task and waits for it to end, whatever it raised, so every ``aclose`` can then flush what is
left knowing nothing else writes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (None: nothing to do) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class Periodic:
    """``step()`` every ``interval`` seconds on the running loop, from ``start()`` to ``stop()``.

    ``step`` may be a plain function or a coroutine function. An exception it raises goes to
    ``on_error`` and the next step runs on time."""

    def __init__(self, name: str, interval: float,
                 step: Callable[[], Awaitable[Any] | Any],
                 on_error: Callable[[Exception], Any]) -> None:
        self.name = name
        self.interval = interval
        self.step = step
        self.on_error = on_error
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                result = self.step()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # the loop outlives any one step
                self.on_error(exc)

    async def stop(self) -> None:
        task, self.task = self.task, None
        await stop(task)
