"""realtime.tasks: a stop that cancels its tasks finishes even when a cancel is lost."""

from __future__ import annotations

import asyncio
import logging

import pytest

from realtime.tasks import tasks_cancel


async def _loop_that_loses_one_cancel(turns: list[int]) -> None:
    """A loop that catches errors around a library call which, once, turns a cancel into an
    error of its own, as a retrying client can."""
    lost = False
    while True:
        turns.append(1)
        try:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost = True
                raise ConnectionError("the library's own error") from None
        except ConnectionError:
            continue


async def test_a_task_that_loses_a_cancel_is_cancelled_again() -> None:
    turns: list[int] = []
    task = asyncio.create_task(_loop_that_loses_one_cancel(turns))
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await tasks_cancel([task])
    assert task.cancelled()
    assert len(turns) == 2


async def _cancel_refused(released: asyncio.Event) -> None:
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue


async def test_a_task_that_never_stops_is_left_behind_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = asyncio.Event()
    task = asyncio.create_task(_cancel_refused(released), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="realtime.tasks"):
        async with asyncio.timeout(5):
            await tasks_cancel([task, None], wait_seconds=0.2)
    assert not task.done()
    assert "left behind: stubborn" in caplog.text
    released.set()
    await asyncio.wait_for(task, 5)


async def test_what_a_task_raised_while_finishing_is_not_the_callers() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    await tasks_cancel([task])
    assert isinstance(task.exception(), RuntimeError)
