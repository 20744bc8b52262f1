"""What the admin's Realtime page shows: every pod's latest snapshot, an hour of connection
counts per pod, and the health of Redis; read from Redis, or from this process without it.

Everything here is bounded by a short timeout and never raises for Redis: an unreachable
Redis becomes an error text on the page (the words of docs/operations.md, never the password).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from realtime.config import RealtimeConfig
from realtime.ops.stats import busiest, stats_snapshot_unstarted
from realtime.ops.stats_publish import HISTORY_SECONDS
from realtime.pod.layers import LayerName, layer_in_use
from realtime.pod.lifecycle import pods_running
from realtime.redis.check import RedisCheckResult, redis_check
from realtime.redis.clients import RedisClient, redis_client
from realtime.redis.errors import redis_problem_classify
from realtime.redis.keys import STATS_PODS_KEY, stats_history_key, stats_key

READ_TIMEOUT = 2.0
BUSIEST_ROOMS = 20

History = dict[str, list[tuple[float, int]]]


@dataclass
class StatsOverview:
    pods: list[dict[str, Any]]
    history: History
    source: str
    redis: RedisCheckResult | None = None
    error: str | None = None
    now: float = field(default_factory=time.time)

    @property
    def total_connections(self) -> int:
        return sum(pod["connections"] for pod in self.pods)

    def total(self, name: str) -> float:
        return round(sum(pod.get(name, 0) for pod in self.pods), 2)

    def busiest_rooms(self, limit: int = BUSIEST_ROOMS) -> dict[str, int]:
        """Members per room over all pods, from each pod's busiest rooms."""
        counts: Counter[str] = Counter()
        for pod in self.pods:
            counts.update(pod["rooms"])
        return busiest(counts, limit)


async def stats_overview(
    config: RealtimeConfig, timeout: float = READ_TIMEOUT, health: bool = True
) -> StatsOverview:
    """All pods from Redis when this process uses the Redis layer, else this process's pods;
    with `health`, Redis's figures (or its error) too, as check_redis reads them."""
    overview = _local_overview(config)
    target = config.redis.url.target
    if layer_in_use() is LayerName.REDIS and target is not None:
        client = redis_client(target, timeout)
        try:
            async with asyncio.timeout(timeout):
                pods, history = await snapshots_read(client)
            overview = StatsOverview(pods, history, "redis")
        except Exception as error:
            overview.error = redis_problem_classify(error, target).error
        finally:
            await client.aclose()
    if health and config.redis.url.configured:
        overview.redis = await redis_check(config.redis.url, timeout, roundtrip=False)
    return overview


async def snapshots_read(client: RedisClient) -> tuple[list[dict[str, Any]], History]:
    """Live pods' snapshots (expired keys are dead pods) and an hour of history per pod."""
    hour_ago = time.time() - HISTORY_SECONDS
    pod_ids = [
        item.decode() for item in await client.zrangebyscore(STATS_PODS_KEY, hour_ago, "+inf")
    ]
    if not pod_ids:
        return [], {}
    # GETs, not one MGET: redis-py's cluster pipeline refuses MGET; one round trip either way.
    async with client.pipeline(transaction=False) as pipe:
        for pod_id in pod_ids:
            pipe.get(stats_key(pod_id))
        for pod_id in pod_ids:
            pipe.zrangebyscore(stats_history_key(pod_id), hour_ago, "+inf")
        replies = await pipe.execute()
    raw, histories = replies[: len(pod_ids)], replies[len(pod_ids) :]
    pods = sorted((json.loads(item) for item in raw if item), key=_pod_order)
    history = {
        pod_id: [_point(member) for member in members]
        for pod_id, members in zip(pod_ids, histories, strict=True)
        if members
    }
    return pods, history


def _local_overview(config: RealtimeConfig) -> StatsOverview:
    """This process's pods (one under daphne), as each last published; before any has, its
    name and layer with nothing open."""
    publishers = [pod.stats for pod in pods_running() if pod.stats.latest]
    pods = [publisher.latest for publisher in publishers if publisher.latest]
    history = {publisher.pod.pod_id: list(publisher.history) for publisher in publishers}
    if not pods:
        pods = [stats_snapshot_unstarted(config.pod_name, layer_in_use().value)]
    return StatsOverview(sorted(pods, key=_pod_order), history, "memory")


def _pod_order(snapshot: dict[str, Any]) -> tuple[str, str]:
    return snapshot["pod"], snapshot["pod_id"]


def _point(member: bytes) -> tuple[float, int]:
    taken_at, _, connections = member.decode().partition(":")
    return float(taken_at), int(connections)
