"""Every few seconds a pod publishes its stats snapshot, for the admin page.

With Redis: the snapshot under `stats_key(pod_id)`, expiring, so a pod that dies drops out of
the admin within EXPIRY_SECONDS; a sorted set per pod keeps an hour of connection counts for the
chart. Without Redis the same stays with the publisher, in memory: the admin then shows the
pods of this process. A failed publish is counted and logged once per outage, never raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from realtime.ops.stats import stats_snapshot
from realtime.pod.layers import LayerName
from realtime.redis.clients import redis_client
from realtime.redis.keys import STATS_PODS_KEY, stats_history_key, stats_key
from realtime.redis.outage import OutageLog
from realtime.tasks import tasks_cancel

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod

logger = logging.getLogger(__name__)

EXPIRY_SECONDS = 30
HISTORY_SECONDS = 3600


class StatsPublisher:
    """Publishes one pod's snapshot every `interval` seconds: to Redis while the pod uses the
    Redis layer, and always to `latest` and `history`, which the admin reads without Redis."""

    def __init__(self, pod: Pod) -> None:
        self.pod = pod
        self.interval = pod.config.stats_seconds
        # A slow publisher must not let its key expire between two publishes.
        self.expiry = max(EXPIRY_SECONDS, round(3 * self.interval))
        self.latest: dict[str, Any] | None = None
        self.history: deque[tuple[float, int]] = deque()
        self.publishing = OutageLog(
            logger,
            "Publishing pod stats to Redis failed",
            pod.config.redis.url.target,
            pod.redis_failed,
        )
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._publish_forever(), name="stats-publish")

    async def stop(self) -> None:
        """Stop publishing and withdraw this pod's snapshot: a clean stop leaves at once."""
        await tasks_cancel([self._task])
        if self._client:
            try:
                async with asyncio.timeout(1):
                    await self._client.delete(stats_key(self.pod.pod_id))
            except Exception as error:
                logger.debug("Could not withdraw the stats snapshot: %s", type(error).__name__)
            await self._client.aclose()

    async def publish(self) -> dict[str, Any]:
        """Take and publish one snapshot; a Redis failure is counted and logged, not raised.

        The layer is asked each time: a pod that fell back and later reached Redis publishes
        there from then on.
        """
        snapshot = stats_snapshot(self.pod, self.latest)
        self._keep(snapshot)
        target = self.pod.config.redis.url.target
        if self.pod.layer is not LayerName.REDIS or target is None:
            return snapshot
        if self._client is None:
            self._client = redis_client(target, self.pod.config.redis.connect_timeout)
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
            pipe.zadd(stats_history_key(pod_id), {f"{now:.3f}:{snapshot['connections']}": now})
            pipe.zremrangebyscore(stats_history_key(pod_id), "-inf", hour_ago)
            pipe.expire(stats_history_key(pod_id), HISTORY_SECONDS)
            pipe.zadd(STATS_PODS_KEY, {pod_id: now})
            pipe.zremrangebyscore(STATS_PODS_KEY, "-inf", hour_ago)
            pipe.expire(STATS_PODS_KEY, HISTORY_SECONDS)
            await pipe.execute()

    def _keep(self, snapshot: dict[str, Any]) -> None:
        self.latest = snapshot
        self.history.append((snapshot["taken_at"], snapshot["connections"]))
        while self.history[0][0] < snapshot["taken_at"] - HISTORY_SECONDS:
            self.history.popleft()

    async def _publish_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.publish()
            except Exception:
                logger.exception("Taking the pod stats snapshot failed")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
