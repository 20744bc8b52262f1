"""Clients for our own commands (member counts, stats, readiness), for each topology of
REDIS_URL: one server, the master that Sentinel names, or a Redis Cluster."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.sentinel import Sentinel

from realtime.redis.url import RedisMode, RedisTarget

MAX_CONNECTIONS = 16

RedisClient = Redis | RedisCluster


def redis_client(target: RedisTarget, timeout: float) -> RedisClient:
    """A client whose commands give up after `timeout` seconds."""
    if target.mode is RedisMode.CLUSTER:
        return RedisCluster(
            startup_nodes=[ClusterNode(host.strip("[]"), port) for host, port in target.nodes],
            **target.node_kwargs(),
            **_timeouts(timeout),
            max_connections=MAX_CONNECTIONS,
        )
    if target.mode is RedisMode.SENTINEL:
        return redis_sentinel(target, timeout).master_for(
            target.master_name, **target.node_kwargs(), **_timeouts(timeout)
        )
    # The pool blocks for a free connection: redis-py 8's default pool opens up to 100 and then
    # fails with "Too many connections".
    pool = BlockingConnectionPool(
        **target.connection_kwargs(),
        **_timeouts(timeout),
        max_connections=MAX_CONNECTIONS,
        timeout=timeout,
    )
    return Redis(connection_pool=pool)


def redis_sentinel(target: RedisTarget, timeout: float) -> Sentinel:
    """The sentinels of a redis+sentinel:// URL, asked with their own password and timeouts."""
    return Sentinel(
        [(host.strip("[]"), port) for host, port in target.nodes],
        sentinel_kwargs={**target.sentinel_kwargs(), **_timeouts(timeout)},
    )


def _timeouts(timeout: float) -> dict[str, Any]:
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout}
