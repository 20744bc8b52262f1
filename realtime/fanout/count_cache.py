"""Other pods' member counts of a room, kept for a short time: a `members` request, up to the
rate limit per connection, would otherwise run a script in Redis each time. Requests for the
same room while one is on its way share it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

# Above this many rooms, expired entries are dropped when a new one comes.
MAX_ROOMS = 10_000


class CountCache:
    def __init__(self, seconds: float, count: Callable[[str], Awaitable[int]]) -> None:
        self.seconds = seconds
        self._count = count
        self._entries: dict[str, tuple[float, asyncio.Future[int]]] = {}

    async def get(self, room: str) -> int:
        if self.seconds <= 0:
            return await self._count(room)
        loop = asyncio.get_running_loop()
        now = loop.time()
        entry = self._entries.get(room)
        if entry is None or (entry[1].done() and entry[0] <= now):
            if len(self._entries) >= MAX_ROOMS:
                self._expired_drop(now)
            entry = (now + self.seconds, asyncio.ensure_future(self._count(room)))
            self._entries[room] = entry
        try:
            return await asyncio.shield(entry[1])
        except Exception:
            if self._entries.get(room) is entry:
                del self._entries[room]  # a failure is not kept: the next request tries again
            raise

    def _expired_drop(self, now: float) -> None:
        self._entries = {
            room: entry
            for room, entry in self._entries.items()
            if not entry[1].done() or entry[0] > now
        }
