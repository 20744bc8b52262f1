"""Is the server REDIS_URL reached what its topology needs? A writable primary, in cluster mode
exactly when the URL says cluster.

Asked with HELLO (no arguments, Redis 6.2+), which every client may run whatever its ACL: a
managed Redis that denies INFO still answers it.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import exceptions as redis_exceptions
from redis.asyncio import Redis

from realtime.redis.errors import (
    RedisProblem,
    RedisUnavailable,
    redis_problem_cluster_node,
    redis_problem_replica,
)


@dataclass(frozen=True)
class ServerRole:
    """HELLO's `mode` (standalone, sentinel, cluster) and `role` (master, replica)."""

    mode: str
    role: str


async def server_role(client: Redis) -> ServerRole | None:
    """What the server says it is; None from a Redis too old to answer HELLO without arguments."""
    try:
        reply = await client.execute_command("HELLO")
    except redis_exceptions.ResponseError:
        return None
    if isinstance(reply, list):  # RESP2 gives the map as a flat list
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    fields = {_text(key): _text(value) for key, value in reply.items()}
    return ServerRole(mode=fields.get("mode", ""), role=fields.get("role", ""))


def role_problem(role: ServerRole) -> RedisProblem | None:
    """Why a one-server REDIS_URL (plain, or Sentinel's master) cannot use this server."""
    if role.mode == "cluster":
        return redis_problem_cluster_node()
    if role.role != "master":
        return redis_problem_replica()
    return None


async def redis_role_check(client: Redis) -> None:
    """Raise RedisUnavailable when the server is a cluster node or a read-only replica."""
    role = await server_role(client)
    problem = role_problem(role) if role else None
    if problem is not None:
        raise RedisUnavailable(problem)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
