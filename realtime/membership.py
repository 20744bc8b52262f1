"""How many members a room has over all pods.

Each pod writes its own local count of each room into the room's Redis hash (field: the pod's
instance id) and keeps itself in a sorted set of live pods with a heartbeat. A count adds up the
fields of live pods only, so a pod killed without cleanup stops counting once its heartbeat is
REALTIME_POD_TIMEOUT_SECONDS old. When Redis comes back empty (a failover without persistence),
the next heartbeat finds the pod unregistered and writes all its counts again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from redis.asyncio import Redis

from realtime.outage import OutageLog

logger = logging.getLogger(__name__)

PODS_KEY = "murror:pods"

# KEYS[1] live pods; ARGV[1] this pod, ARGV[2] timeout. Returns 1 when this pod was not
# registered: first beat, or Redis lost our state (then the caller rewrites its counts).
_HEARTBEAT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZADD', KEYS[1], now, ARGV[1])
"""

# KEYS[1] the room's hash, KEYS[2] live pods; ARGV[1] timeout. Fields of pods gone from the
# live set are removed; a pod late with its heartbeat is skipped until it beats again.
_COUNT = """
local cutoff = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local seen = redis.call('ZSCORE', KEYS[2], fields[i])
  if not seen then
    redis.call('HDEL', KEYS[1], fields[i])
  elseif tonumber(seen) >= cutoff then
    total = total + tonumber(fields[i + 1])
  end
end
return total
"""


def room_members_key(room: str) -> str:
    return f"murror:room:{room}:members"


class LocalMembership:
    """One pod, no Redis: the local count is the count."""

    def __init__(self, local_counts: Callable[[], Mapping[str, int]]) -> None:
        self.local_counts = local_counts

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def room_count_set(self, room: str, count: int) -> None:
        return None

    async def room_count(self, room: str) -> int:
        return self.local_counts().get(room, 0)


class RedisMembership:
    """Counts over all pods, kept in Redis by every pod for its own members."""

    def __init__(
        self,
        client: Redis,
        pod_id: str,
        local_counts: Callable[[], Mapping[str, int]],
        *,
        heartbeat_seconds: float,
        pod_timeout_seconds: int,
    ) -> None:
        self.client = client
        self.pod_id = pod_id
        self.local_counts = local_counts
        self.heartbeat_seconds = heartbeat_seconds
        self.pod_timeout_seconds = pod_timeout_seconds
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._count = client.register_script(_COUNT)
        self._task: asyncio.Task[None] | None = None
        self._registered = False
        self.heartbeats = OutageLog(logger, "Membership heartbeat to Redis failed")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._beat_forever(), name="membership-heartbeat")

    async def stop(self) -> None:
        """Leave every room at once, as on a clean shutdown."""
        if self._task:
            self._task.cancel()
        async with self.client.pipeline(transaction=False) as pipe:
            for room in self.local_counts():
                pipe.hdel(room_members_key(room), self.pod_id)
            pipe.zrem(PODS_KEY, self.pod_id)
            await pipe.execute()

    async def room_count_set(self, room: str, count: int) -> None:
        if count:
            await self.client.hset(room_members_key(room), self.pod_id, count)
        else:
            await self.client.hdel(room_members_key(room), self.pod_id)

    async def room_count(self, room: str) -> int:
        keys = [room_members_key(room), PODS_KEY]
        return int(await self._count(keys=keys, args=[self.pod_timeout_seconds]))

    async def beat(self) -> bool:
        """One heartbeat; True when Redis had lost this pod and its counts were rewritten."""
        was_missing = await self._heartbeat(
            keys=[PODS_KEY], args=[self.pod_id, self.pod_timeout_seconds]
        )
        restored = bool(was_missing) and self._registered
        if was_missing:
            await self._counts_rewrite()
        self._registered = True
        if restored:
            logger.warning("Redis had lost this pod's room memberships: restored them")
        return restored

    async def _counts_rewrite(self) -> None:
        counts = dict(self.local_counts())
        if not counts:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for room, count in counts.items():
                pipe.hset(room_members_key(room), self.pod_id, count)
            await pipe.execute()

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as error:
                self.heartbeats.failed(error)
            else:
                self.heartbeats.recovered()
            await asyncio.sleep(self.heartbeat_seconds)
