"""signals.background: a periodic step that outlives its failures, and one way to stop a task."""

from __future__ import annotations

import asyncio

from signals.background import Periodic, stop


async def test_periodic_keeps_stepping_after_a_step_raises_and_stops_for_good() -> None:
    steps: list[int] = []
    errors: list[Exception] = []
    third = asyncio.Event()

    async def step() -> None:
        steps.append(len(steps))
        if len(steps) == 1:
            raise RuntimeError("redis went away")
        if len(steps) >= 3:
            third.set()

    job = Periodic("test-periodic", 0.0, step, errors.append)
    job.start()
    job.start()  # a second start does not start a second loop
    await asyncio.wait_for(third.wait(), 10)
    await job.stop()
    assert job.task is None
    assert [str(e) for e in errors] == ["redis went away"]
    seen = len(steps)
    await asyncio.sleep(0.01)
    assert len(steps) == seen  # stopped: no step after stop() returned


async def test_periodic_takes_a_plain_function() -> None:
    calls: list[None] = []
    done = asyncio.Event()

    def step() -> None:
        calls.append(None)
        done.set()

    job = Periodic("test-plain", 0.0, step, lambda exc: None)
    job.start()
    await asyncio.wait_for(done.wait(), 10)
    await job.stop()
    assert calls


async def test_stop_waits_for_the_task_and_swallows_what_it_raised() -> None:
    await stop(None)
    ended = asyncio.Event()

    async def worker() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.set()

    task = asyncio.get_running_loop().create_task(worker())
    await asyncio.sleep(0)
    await stop(task)
    assert task.done() and ended.is_set()

    async def failing() -> None:
        raise ValueError("boom")

    task = asyncio.get_running_loop().create_task(failing())
    await asyncio.sleep(0)
    await stop(task)  # already failed: stop still returns
    assert task.done()
