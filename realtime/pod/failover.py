"""A pod notices that the Redis its connections reach stopped being the primary, and moves
them all to the one that is.

A managed Redis fails over by promoting a replica behind the same endpoint, and the old primary
often stays up as a replica with every connection still open: PUBLISH succeeds there and reaches
only the connections still on it, writes raise ReadOnlyError, and nothing breaks loudly. With
Sentinel the old master keeps its clients for about 10 s after the sentinels name a new one
(SENTINEL FAILOVER, seen here). So once a second the pod asks the very server it connected to
(a connection opened beside the layer's, so on the same server) whether it is still the
writable primary, and with Sentinel whether the sentinels still name it. Either change, or a
ReadOnlyError from any of the pod's writes, makes the pod replace its layer, subscriptions and
member-count client with new ones, which find the primary.

A Redis Cluster needs none of this: its layer and client follow the slots themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import ConnectionPool, Redis

from realtime.redis.clients import redis_sentinel
from realtime.redis.role import role_problem, server_role
from realtime.redis.url import RedisMode, RedisTarget
from realtime.tasks import tasks_cancel

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0

Reconnect = Callable[[str], Awaitable[None]]


class PrimaryWatch:
    """Watches the primary this pod's Redis connections were opened on; `reconnect(why)` is the
    pod's, and the watch follows it to the new primary afterwards."""

    def __init__(self, target: RedisTarget, timeout: float, reconnect: Reconnect) -> None:
        self.target = target
        self.timeout = timeout
        self.reconnect = reconnect
        self.suspect = asyncio.Event()  # a write met ReadOnlyError: look now, not in a second
        self._witness: Redis | None = None
        self._master: tuple[str, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch_forever(), name="redis-primary-watch")

    async def stop(self) -> None:
        await tasks_cancel([self._task])
        await self._witness_close()

    async def witness_open(self) -> None:
        """Connect the witness now, beside the layer's own connections (the pod calls this
        whenever it opens the layer)."""
        await self._witness_close()
        host, port = self.target.host.strip("[]"), self.target.port
        if self.target.mode is RedisMode.SENTINEL:
            self._master = await self._sentinels_master()
            if self._master is None:
                return
            host, port = self._master
        pool = ConnectionPool(
            **self.target.connection_kwargs() | {"host": host, "port": port},
            socket_connect_timeout=self.timeout,
            socket_timeout=self.timeout,
        )
        # One user, so one connection, kept open between checks; closed with the client.
        self._witness = Redis.from_pool(pool)
        try:  # connected now, not at the first check: on the server the layer just reached
            await server_role(self._witness)
        except Exception as error:
            logger.debug("The primary witness could not connect yet: %r", error)

    async def _watch_forever(self) -> None:
        while True:
            try:
                async with asyncio.timeout(CHECK_SECONDS):
                    await self.suspect.wait()
            except TimeoutError:
                pass
            self.suspect.clear()
            try:
                why = await self._primary_moved()
            except Exception as error:  # Redis away: the layer's own retries deal with it
                logger.debug("Primary check failed: %r", error)
                continue
            if why:
                logger.warning("%s: reconnecting this pod's Redis connections", why)
                try:
                    await self.reconnect(why)
                except Exception as error:  # the new primary not reachable yet: next second
                    logger.warning("Reconnecting to Redis failed: %r", error)
                    continue
                await self.witness_open()

    async def _primary_moved(self) -> str | None:
        """Why the pod's connections are on the wrong server, or None while they are not."""
        if self._witness is None:
            await self.witness_open()
            return None
        if self.target.mode is RedisMode.SENTINEL:
            named = await self._sentinels_master()
            if named is not None and named != self._master:
                return f"Sentinel names a new master, {named[0]}:{named[1]}"
        role = await server_role(self._witness)
        problem = role_problem(role) if role else None
        if problem is not None:
            return f"The Redis primary this pod used became a replica ({problem.error})"
        return None

    async def _sentinels_master(self) -> tuple[str, int] | None:
        sentinel = redis_sentinel(self.target, self.timeout)
        try:
            host, port = await sentinel.discover_master(self.target.master_name)
            return str(host), int(port)
        except Exception as error:
            logger.debug("No sentinel named the master: %r", error)
            return None
        finally:
            for each in sentinel.sentinels:
                await each.aclose()

    async def _witness_close(self) -> None:
        if self._witness is not None:
            witness, self._witness = self._witness, None
            await witness.aclose()
