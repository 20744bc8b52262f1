"""How many members a room has over all pods.

Each pod writes its own local count of each room into the room's Redis hash (field: the pod's
instance id) and keeps itself in a sorted set of live pods with a heartbeat. A count adds this
pod's local count to the fields of the other live pods, so a pod killed without cleanup stops
counting once its heartbeat is REALTIME_POD_TIMEOUT_SECONDS old. When Redis comes back empty
(a failover without persistence), the next heartbeat finds the pod unregistered and writes all
its counts again.

A join or leave marks its room and waits for the one writer, which sends every count changed
meanwhile in one pipeline: once `joined` is sent the member counts on every pod, and a burst of
10,000 joins is a handful of round trips rather than 10,000.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from redis.asyncio import Redis

from realtime.fanout.count_cache import CountCache
from realtime.fanout.types import FailureLog
from realtime.redis.keys import PODS_KEY, room_members_key
from realtime.tasks import tasks_cancel

logger = logging.getLogger(__name__)

# KEYS[1] live pods; ARGV[1] this pod, ARGV[2] timeout. Returns 1 when this pod was not
# registered: first beat, or Redis lost our state (then the caller rewrites its counts).
_HEARTBEAT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZADD', KEYS[1], now, ARGV[1])
"""

# KEYS[1] the room's hash, KEYS[2] live pods; ARGV[1] timeout, ARGV[2] this pod (which counts
# its own members itself). Fields of pods gone from the live set are removed; a pod late with
# its heartbeat is skipped until it beats again.
_OTHERS_COUNT = """
local cutoff = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  if fields[i] ~= ARGV[2] then
    local seen = redis.call('ZSCORE', KEYS[2], fields[i])
    if not seen then
      redis.call('HDEL', KEYS[1], fields[i])
    elseif tonumber(seen) >= cutoff then
      total = total + tonumber(fields[i + 1])
    end
  end
end
return total
"""


class LocalMembership:
    """One pod, no Redis: nobody else to count."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def room_changed(self, room: str) -> None:
        return None

    async def others_count(self, room: str) -> int:
        return 0


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
        heartbeats: FailureLog,
        writes: FailureLog,
        count_cache_seconds: float = 0.0,
    ) -> None:
        self.client = client
        self.pod_id = pod_id
        self.local_counts = local_counts
        self.heartbeat_seconds = heartbeat_seconds
        self.pod_timeout_seconds = pod_timeout_seconds
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._others_count = client.register_script(_OTHERS_COUNT)
        self._others_counts = CountCache(count_cache_seconds, self._others_count_read)
        self._changed: set[str] = set()
        self._change_noted = asyncio.Event()
        self._next_write: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._registered = False
        self.heartbeats = heartbeats
        self.writes = writes

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._beat_forever(), name="membership-heartbeat"),
            asyncio.create_task(self._write_forever(), name="membership-writes"),
        ]

    async def stop(self) -> None:
        """Leave every room at once, as on a clean shutdown; with Redis away, the counts of
        this pod stop counting when its heartbeat is too old."""
        await tasks_cancel(self._tasks)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for room in self.local_counts():
                    pipe.hdel(room_members_key(room), self.pod_id)
                pipe.zrem(PODS_KEY, self.pod_id)
                await pipe.execute()
        except Exception as error:
            self.writes.failed(error)

    async def room_changed(self, room: str) -> None:
        """This pod's count of `room` changed: wait until the writer has sent it (or failed,
        which is counted and retried; a join never fails for it)."""
        self._changed.add(room)
        self._change_noted.set()
        if self._next_write is None:
            self._next_write = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._next_write)

    async def others_count(self, room: str) -> int:
        """The other pods' members of `room`, at most `count_cache_seconds` old."""
        return await self._others_counts.get(room)

    async def _others_count_read(self, room: str) -> int:
        keys = [room_members_key(room), PODS_KEY]
        return int(
            await self._others_count(keys=keys, args=[self.pod_timeout_seconds, self.pod_id])
        )

    async def beat(self) -> bool:
        """One heartbeat; True when Redis had lost this pod and its counts were rewritten."""
        was_missing = await self._heartbeat(
            keys=[PODS_KEY], args=[self.pod_id, self.pod_timeout_seconds]
        )
        restored = bool(was_missing) and self._registered
        if was_missing or not self._registered:
            # The first beat writes every count too: this membership may take over from one on
            # another server (a failover), whose writes did not all arrive.
            await self._counts_write(set(self.local_counts()))
        self._registered = True
        if restored:
            logger.warning("Redis had lost this pod's room memberships: restored them")
        return restored

    async def write_changes(self) -> bool:
        """Send every changed count in one pipeline; on failure they stay marked for later."""
        changed, self._changed = self._changed, set()
        try:
            await self._counts_write(changed)
        except Exception as error:
            self._changed |= changed
            self.writes.failed(error)
            return False
        self.writes.recovered()
        return True

    async def _counts_write(self, rooms: set[str]) -> None:
        if not rooms:
            return
        counts = self.local_counts()
        async with self.client.pipeline(transaction=False) as pipe:
            for room in rooms:
                if counts.get(room):
                    pipe.hset(room_members_key(room), self.pod_id, counts[room])
                else:
                    pipe.hdel(room_members_key(room), self.pod_id)
            await pipe.execute()

    async def _write_forever(self) -> None:
        while True:
            await self._change_noted.wait()
            self._change_noted.clear()
            written, self._next_write = self._next_write, None
            succeeded = await self.write_changes()
            if written and not written.done():
                written.set_result(None)
            if not succeeded:  # try again after a heartbeat's pause, not in a spin
                await asyncio.sleep(self.heartbeat_seconds)
                self._change_noted.set()

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as error:
                self.heartbeats.failed(error)
            else:
                self.heartbeats.recovered()
            await asyncio.sleep(self.heartbeat_seconds)
