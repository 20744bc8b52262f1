"""Connections to a primary that drop themselves when it turns out to be a replica.

In a managed failover the old primary often stays up as a replica, and a connection that stays
on it gets ReadOnlyError for every write for as long as it lives. redis-py's Sentinel
connections already disconnect on ReadOnlyError (redis.asyncio.sentinel); these do the same for
a plain REDIS_URL, so the pool's next connection goes through the endpoint to the new primary.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import ReadOnlyError


class _DemotedServerDropped:
    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except ReadOnlyError:
            await self.disconnect()  # type: ignore[attr-defined]
            raise


class PrimaryConnection(_DemotedServerDropped, Connection):
    pass


class PrimarySSLConnection(_DemotedServerDropped, SSLConnection):
    pass
