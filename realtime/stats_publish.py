"""Every few seconds a pod publishes its stats snapshot, for the admin page.

With Redis: `murror:stats:<pod_id>` holds the JSON snapshot and expires, so a pod that dies
drops out of the admin within EXPIRY_SECONDS; a sorted set per pod keeps an hour of connection
counts for the chart. Without Redis the same lives in this process's memory: the admin then
shows the one local pod. A failed publish is counted and logged once per outage, never raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from redis.asyncio import Redis

from realtime.layers import LayerName, layer_status
from realtime.outage import OutageLog
from realtime.redis_probe import redis_client
from realtime.redis_url import redis_target_parse
from realtime.rooms import PodRooms
from realtime.stats import pod_stats, stats_snapshot

logger = logging.getLogger(__name__)

EXPIRY_SECONDS = 30
HISTORY_SECONDS = 3600
PODS_KEY = "murror:stats-pods"


def stats_key(pod_id: str) -> str:
    return f"murror:stats:{pod_id}"


def history_key(pod_id: str) -> str:
    return f"murror:stats-history:{pod_id}"


@dataclass
class LocalRecord:
    """Without Redis: the latest snapshot and an hour of (time, connections), in memory."""

    snapshot: dict[str, Any]
    history: deque[tuple[float, int]] = field(default_factory=deque)


local_records: dict[str, LocalRecord] = {}
_publishers: dict[str, StatsPublisher] = {}


class StatsPublisher:
    """Publishes one pod's snapshot every `interval` seconds, to Redis or to local memory."""

    def __init__(self, rooms: PodRooms, pod_name: str, interval: float) -> None:
        self.rooms = rooms
        self.pod_name = pod_name
        self.interval = interval
        # A slow publisher must not let its key expire between two publishes.
        self.expiry = max(EXPIRY_SECONDS, round(3 * interval))
        self.previous: dict[str, Any] | None = None
        self.publishing = OutageLog(logger, "Publishing pod stats to Redis failed")
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._publish_forever(), name="stats-publish")

    async def stop(self) -> None:
        """Stop publishing and withdraw this pod's snapshot: a clean stop leaves at once."""
        if self._task:
            self._task.cancel()
        local_records.pop(self.rooms.pod_id, None)
        if self._client:
            try:
                async with asyncio.timeout(1):
                    await self._client.delete(stats_key(self.rooms.pod_id))
            except Exception as error:
                logger.debug("Could not withdraw the stats snapshot: %s", type(error).__name__)
            await self._client.aclose()

    async def publish(self) -> dict[str, Any]:
        """Take and publish one snapshot; a Redis failure is counted and logged, not raised.

        The layer is asked each time: a pod that fell back and later reached Redis publishes
        there from then on.
        """
        layer = layer_status().name
        snapshot = stats_snapshot(pod_stats, self.rooms, self.pod_name, layer.value, self.previous)
        self.previous = snapshot
        if layer is not LayerName.REDIS:
            self._local_keep(snapshot)
            return snapshot
        if self._client is None:
            target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
            self._client = redis_client(target, settings.REDIS_CONNECT_TIMEOUT)
        try:
            async with asyncio.timeout(max(self.interval, 1.0)):
                await self._redis_write(self._client, snapshot)
        except Exception as error:
            self.publishing.failed(error)
        else:
            self.publishing.recovered()
        return snapshot

    async def _redis_write(self, client: Redis, snapshot: dict[str, Any]) -> None:
        pod_id, now = snapshot["pod_id"], snapshot["taken_at"]
        hour_ago = now - HISTORY_SECONDS
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(stats_key(pod_id), json.dumps(snapshot), ex=self.expiry)
            pipe.zadd(history_key(pod_id), {f"{now:.3f}:{snapshot['connections']}": now})
            pipe.zremrangebyscore(history_key(pod_id), "-inf", hour_ago)
            pipe.expire(history_key(pod_id), HISTORY_SECONDS)
            pipe.zadd(PODS_KEY, {pod_id: now})
            pipe.zremrangebyscore(PODS_KEY, "-inf", hour_ago)
            pipe.expire(PODS_KEY, HISTORY_SECONDS)
            await pipe.execute()

    def _local_keep(self, snapshot: dict[str, Any]) -> None:
        record = local_records.setdefault(snapshot["pod_id"], LocalRecord(snapshot))
        record.snapshot = snapshot
        record.history.append((snapshot["taken_at"], snapshot["connections"]))
        while record.history[0][0] < snapshot["taken_at"] - HISTORY_SECONDS:
            record.history.popleft()

    async def _publish_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.publish()
            except Exception:
                logger.exception("Taking the pod stats snapshot failed")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))


def stats_publisher_start(rooms: PodRooms) -> StatsPublisher:
    """Start publishing this pod's stats: to Redis while the pod uses the Redis layer."""
    publisher = StatsPublisher(rooms, settings.POD_NAME, settings.REALTIME_STATS_SECONDS)
    publisher.start()
    _publishers[rooms.pod_id] = publisher
    return publisher


async def stats_publisher_stop(rooms: PodRooms) -> None:
    publisher = _publishers.pop(rooms.pod_id, None)
    if publisher is not None:
        await publisher.stop()
