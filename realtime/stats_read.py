"""What the admin's Realtime page shows: every pod's latest snapshot, an hour of connection
counts per pod, and the health of Redis; read from Redis, or from this process without it.

Everything here is bounded by a short timeout and never raises for Redis: an unreachable
Redis becomes an error text on the page (SPEC.md's words, never the password).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from redis.asyncio import Redis

from realtime.layers import LayerName, layer_status
from realtime.redis_check import RedisCheckResult, redis_check
from realtime.redis_errors import redis_problem_classify
from realtime.redis_probe import redis_client
from realtime.redis_url import redis_target_parse
from realtime.stats import busiest, pod_stats, stats_snapshot
from realtime.stats_publish import HISTORY_SECONDS, PODS_KEY, history_key, local_records, stats_key

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


async def stats_overview(timeout: float = READ_TIMEOUT, health: bool = True) -> StatsOverview:
    """All pods from Redis when this pod uses the Redis layer, else this process's pod only;
    with `health`, Redis's figures (or its error) too, as check_redis reads them."""
    overview = _local_overview()
    if layer_status().name is LayerName.REDIS:
        target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
        client = redis_client(target, timeout)
        try:
            async with asyncio.timeout(timeout):
                pods, history = await snapshots_read(client)
            overview = StatsOverview(pods, history, "redis")
        except Exception as error:
            overview.error = redis_problem_classify(error, target).error
        finally:
            await client.aclose()
    if health and settings.REDIS_URL:
        overview.redis = await redis_check(
            settings.REDIS_URL, settings.REDIS_TLS, timeout, roundtrip=False
        )
    return overview


async def snapshots_read(client: Redis) -> tuple[list[dict[str, Any]], History]:
    """Live pods' snapshots (expired keys are dead pods) and an hour of history per pod."""
    hour_ago = time.time() - HISTORY_SECONDS
    pod_ids = [item.decode() for item in await client.zrangebyscore(PODS_KEY, hour_ago, "+inf")]
    if not pod_ids:
        return [], {}
    async with client.pipeline(transaction=False) as pipe:
        pipe.mget([stats_key(pod_id) for pod_id in pod_ids])
        for pod_id in pod_ids:
            pipe.zrangebyscore(history_key(pod_id), hour_ago, "+inf")
        raw, *histories = await pipe.execute()
    pods = sorted((json.loads(item) for item in raw if item), key=_pod_order)
    history = {
        pod_id: [_point(member) for member in members]
        for pod_id, members in zip(pod_ids, histories, strict=True)
        if members
    }
    return pods, history


def _local_overview() -> StatsOverview:
    """This process's pods (one under daphne); before its first WebSocket, its bare counters."""
    pods = [record.snapshot for record in local_records.values()]
    history = {pod_id: list(record.history) for pod_id, record in local_records.items()}
    if not pods:
        layer = layer_status().name.value
        pods = [stats_snapshot(pod_stats, None, settings.POD_NAME, layer)]
    return StatsOverview(sorted(pods, key=_pod_order), history, "memory")


def _pod_order(snapshot: dict[str, Any]) -> tuple[str, str]:
    return snapshot["pod"], snapshot["pod_id"]


def _point(member: bytes) -> tuple[float, int]:
    taken_at, _, connections = member.decode().partition(":")
    return float(taken_at), int(connections)
