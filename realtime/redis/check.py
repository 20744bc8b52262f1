"""What `manage.py check_redis` finds: each step against the configured Redis, and what broke.

The steps are the pod's own (redis_probe), so a healthy check means a pod would start on Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_exceptions
from redis.asyncio import RedisCluster

from realtime.redis.clients import RedisClient
from realtime.redis.errors import (
    RedisProblem,
    RedisUnavailable,
    redis_problem_classify,
    redis_problem_cluster_unhealthy,
    redis_problem_in_layer,
    redis_problem_invalid_url,
    redis_problem_missing,
)
from realtime.redis.probe import layer_roundtrip, redis_classified, redis_connected
from realtime.redis.topology import cluster_facts, sentinel_facts
from realtime.redis.url import RedisMode, RedisTarget, RedisUrlSetting

DEFAULT_TIMEOUT = 5.0
# Reported only for the topology they belong to.
_TOPOLOGY_FIELDS = ("master", "sentinels", "quorum", "cluster_state", "shards")


@dataclass
class RedisCheckResult:
    """check_redis's fields (docs/operations.md); None for what the check could not learn."""

    healthy: bool = False
    url: str | None = None
    mode: str | None = None
    ping_ms: float | None = None
    version: str | None = None
    role: str | None = None
    used_memory: int | None = None
    connected_clients: int | None = None
    ops_per_sec: int | None = None
    layer_roundtrip_ms: float | None = None
    # Sentinel: the master it names, how many sentinels answered, and whether they can fail over.
    master: str | None = None
    sentinels: dict[str, int] | None = None
    quorum: bool | None = None
    # Redis Cluster: CLUSTER INFO's state and each shard's primary, replicas and health.
    cluster_state: str | None = None
    shards: list[dict[str, Any]] | None = None
    info_error: str | None = None
    error: str | None = None
    solution: str | None = None
    exit_code: int = 0

    def as_json(self) -> dict[str, Any]:
        """The `--json` object: every documented field, plus error and solution when unhealthy."""
        fields = dataclasses.asdict(self)
        del fields["exit_code"]
        for optional in (*_TOPOLOGY_FIELDS, "info_error", "error", "solution"):
            if fields[optional] is None:
                del fields[optional]
        return fields

    def fail(self, problem: RedisProblem) -> RedisCheckResult:
        self.healthy = False
        self.error, self.solution, self.exit_code = (
            problem.error,
            problem.solution,
            problem.exit_code,
        )
        return self


async def redis_check(
    setting: RedisUrlSetting, timeout: float = DEFAULT_TIMEOUT, roundtrip: bool = True
) -> RedisCheckResult:
    """Check REDIS_URL as the server would use it, all within `timeout` seconds; without
    `roundtrip`, only the server's own figures (the admin page, every few seconds)."""
    result = RedisCheckResult()
    if setting.error is not None:
        return result.fail(redis_problem_invalid_url(setting.error))
    target = setting.target
    if target is None:
        return result.fail(redis_problem_missing())
    result.url = target.masked
    result.mode = target.mode.value
    in_layer = False
    try:
        async with asyncio.timeout(timeout):
            if target.mode is RedisMode.SENTINEL:
                await _sentinels_check(target, timeout, result)
            await _server_check(target, timeout, result)
            in_layer = True
            if roundtrip:
                result.layer_roundtrip_ms = _ms(await layer_roundtrip(target, timeout))
    except RedisUnavailable as error:
        problem = error.problem
    except TimeoutError as error:  # the whole check's bound, whatever step it was in
        problem = redis_problem_classify(error, target)
    else:
        result.healthy = True
        return result
    return result.fail(redis_problem_in_layer(problem) if in_layer else problem)


async def _sentinels_check(target: RedisTarget, timeout: float, result: RedisCheckResult) -> None:
    facts = await sentinel_facts(target, timeout)
    result.master, result.quorum = facts.master, facts.quorum
    result.sentinels = {"reachable": facts.reachable, "total": facts.total}


async def _server_check(target: RedisTarget, timeout: float, result: RedisCheckResult) -> None:
    async with redis_connected(target, timeout) as client, redis_classified(target):
        started = time.perf_counter()
        await client.ping()  # on the open connection: the latency, not the handshake
        result.ping_ms = _ms(time.perf_counter() - started)
        await _server_info(client, result)
        if isinstance(client, RedisCluster):
            await _cluster_check(client, result)


async def _cluster_check(client: RedisCluster, result: RedisCheckResult) -> None:
    state, shards = await cluster_facts(client)
    result.cluster_state, result.shards = state, [shard.as_json() for shard in shards]
    unhealthy = [
        shard.primary or "a shard without a primary" for shard in shards if not shard.healthy
    ]
    if state != "ok" or unhealthy:
        raise RedisUnavailable(redis_problem_cluster_unhealthy(state, unhealthy))


async def _server_info(client: RedisClient, result: RedisCheckResult) -> None:
    """Fill in what INFO tells (a cluster's first primary; its memory, clients and ops summed
    over the primaries); a managed Redis may deny INFO, and the layer does not need it."""
    try:
        info = await _info(client)
    except redis_exceptions.NoPermissionError as error:
        result.info_error = f"NOPERM {error}"
        return
    role = str(info.get("role", ""))
    result.version = str(info.get("redis_version", "")) or None
    result.role = "replica" if role == "slave" else role or None
    result.used_memory = _int_or_none(info.get("used_memory"))
    result.connected_clients = _int_or_none(info.get("connected_clients"))
    result.ops_per_sec = _int_or_none(info.get("instantaneous_ops_per_sec"))


async def _info(client: RedisClient) -> dict[str, Any]:
    if not isinstance(client, RedisCluster):
        return await client.info()
    per_node = list((await client.info(target_nodes=RedisCluster.PRIMARIES)).values())
    info = dict(per_node[0])
    for summed in ("used_memory", "connected_clients", "instantaneous_ops_per_sec"):
        info[summed] = sum(int(node.get(summed, 0)) for node in per_node)
    return info


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
