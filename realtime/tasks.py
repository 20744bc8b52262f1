"""Tasks that run beside the connections: started with a name, and when stopped, awaited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

logger = logging.getLogger(__name__)

# Tasks nobody awaits, held until they end: the event loop keeps only weak references.
_background: set[asyncio.Task[Any]] = set()

# A task still running this long after a cancel is cancelled again.
RECANCEL_SECONDS = 0.5
# A stop waits this long for its tasks, then goes on without them.
CANCEL_WAIT_SECONDS = 10.0


async def tasks_cancel(
    tasks: Iterable[asyncio.Task[Any] | None], wait_seconds: float = CANCEL_WAIT_SECONDS
) -> None:
    """Cancel the tasks and wait until each has finished its cleanup; what they raise while
    finishing is theirs to log, not the caller's to receive.

    A cancel can be lost: a library that turns it into an error of its own (a retry, a
    timeout) lets a task that catches errors go round its loop again, and the pod's stop then
    hangs. So a task still running is cancelled again, and one still running after
    `wait_seconds` is logged by name and left behind."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    pending = {task for task in tasks if task is not None and not task.done()}
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            names = ", ".join(sorted(task.get_name() for task in pending))
            logger.warning(
                "Still running %g s after a cancel, left behind: %s", wait_seconds, names
            )
            return
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=min(RECANCEL_SECONDS, remaining))
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved, so asyncio does not log it as never retrieved


def task_in_background(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Run a task nobody awaits, holding a reference until it ends."""
    task = asyncio.get_running_loop().create_task(coroutine, name=name)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task
