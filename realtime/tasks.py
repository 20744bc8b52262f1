"""Tasks that run beside the connections: started with a name, and when stopped, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

# Tasks nobody awaits, held until they end: the event loop keeps only weak references.
_background: set[asyncio.Task[Any]] = set()


async def tasks_cancel(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel the tasks and wait until each has finished its cleanup; what they raise while
    finishing is theirs to log, not the caller's to receive."""
    pending = [task for task in tasks if task is not None and not task.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def task_in_background(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Run a task nobody awaits, holding a reference until it ends."""
    task = asyncio.get_running_loop().create_task(coroutine, name=name)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task
