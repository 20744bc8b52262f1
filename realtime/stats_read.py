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
from realtime.redis_errors import redis_problem_classify, redis_problem_invalid_url
from realtime.redis_probe import redis_client
from realtime.redis_url import InvalidRedisUrl, RedisTarget, redis_target_parse, redis_url_mask
from realtime.stats import busiest, pod_stats, stats_snapshot
from realtime.stats_publish import HISTORY_SECONDS, PODS_KEY, history_key, local_records, stats_key

READ_TIMEOUT = 2.0
BUSIEST_ROOMS = 20

History = dict[str, list[tuple[float, int]]]


@dataclass(frozen=True)
class RedisHealth:
    """One INFO and one PING; `error` instead of figures when Redis did not answer."""

    url: str
    ping_ms: float | None = None
    version: str | None = None
    role: str | None = None
    used_memory: str | None = None
    connected_clients: int | None = None
    ops_per_sec: int | None = None
    error: str | None = None


@dataclass
class StatsOverview:
    pods: list[dict[str, Any]]
    history: History
    source: str
    redis: RedisHealth | None = None
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
    with `health`, Redis's figures (or its error) too."""
    if not settings.REDIS_URL:
        return _local_overview()
    try:
        target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
    except InvalidRedisUrl as error:
        overview = _local_overview()
        problem = redis_problem_invalid_url(error)
        overview.redis = RedisHealth(redis_url_mask(settings.REDIS_URL), error=problem.error)
        return overview
    client = redis_client(target, timeout)
    try:
        overview = _local_overview()
        if layer_status().name is LayerName.REDIS:
            try:
                async with asyncio.timeout(timeout):
                    pods, history = await snapshots_read(client)
                overview = StatsOverview(pods, history, "redis")
            except Exception as error:
                overview.error = redis_problem_classify(error, target).error
        if health:
            overview.redis = await redis_health(client, target, timeout)
        return overview
    finally:
        await client.aclose()


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


async def redis_health(client: Redis, target: RedisTarget, timeout: float) -> RedisHealth:
    try:
        async with asyncio.timeout(timeout):
            started = time.perf_counter()
            await client.ping()
            ping_ms = round((time.perf_counter() - started) * 1000, 2)
            info = await client.info()
    except Exception as error:
        return RedisHealth(target.masked, error=redis_problem_classify(error, target).error)
    return RedisHealth(
        target.masked,
        ping_ms=ping_ms,
        version=info.get("redis_version"),
        role=info.get("role"),
        used_memory=info.get("used_memory_human"),
        connected_clients=info.get("connected_clients"),
        ops_per_sec=info.get("instantaneous_ops_per_sec"),
    )


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
