"""The bounded queue between two of the hub's tasks."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


class EventQueue(Generic[Item]):
    """A bounded FIFO: when it is full the oldest item is dropped and its events counted, so a
    pod that cannot keep up sheds load instead of growing without end.

    `events_in` tells how many room events an item carries (a forwarded batch carries several).
    """

    def __init__(self, size: int, events_in: Callable[[Item], int] = lambda item: 1) -> None:
        self.items: deque[Item] = deque(maxlen=size)
        self.ready = asyncio.Event()
        self.dropped = 0
        self.events_in = events_in

    def put(self, item: Item) -> None:
        if len(self.items) == self.items.maxlen:
            self.dropped += self.events_in(self.items[0])
        self.items.append(item)
        self.ready.set()

    async def consume(
        self, handle: Callable[[list[Item]], Awaitable[None]], batch_size: int = 1
    ) -> None:
        """Hand the items to `handle`, in order, up to `batch_size` at a time, until cancelled;
        a batch that fails is logged and the next one goes on."""
        while True:
            await self.ready.wait()
            while self.items:
                batch = [self.items.popleft() for _ in range(min(batch_size, len(self.items)))]
                try:
                    await handle(batch)
                except Exception:
                    logger.exception("Dropped room events that could not be handled")
                # Let the other tasks and the connections run between two batches.
                await asyncio.sleep(0)
            self.ready.clear()
