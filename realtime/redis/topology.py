"""What check_redis reports about Sentinel and Redis Cluster beyond the one server: the master
and the sentinels' quorum, or the cluster's state and each shard."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from redis.asyncio import RedisCluster

from realtime.redis.clients import redis_sentinel
from realtime.redis.url import RedisTarget


@dataclass
class SentinelFacts:
    master: str | None  # host:port of the master the sentinels name
    reachable: int
    total: int
    quorum: bool


@dataclass
class ShardFacts:
    primary: str | None  # host:port
    replicas: int
    healthy: bool

    def as_json(self) -> dict[str, Any]:
        return {"primary": self.primary, "replicas": self.replicas, "healthy": self.healthy}


async def sentinel_facts(target: RedisTarget, timeout: float) -> SentinelFacts:
    """Ask every sentinel at once; a sentinel that fails to answer counts as unreachable."""
    sentinel = redis_sentinel(target, timeout)
    try:
        answers = await asyncio.gather(
            *(_sentinel_ask(each, target.master_name or "") for each in sentinel.sentinels),
            return_exceptions=True,
        )
    finally:
        for each in sentinel.sentinels:
            await each.aclose()
    answered = [answer for answer in answers if isinstance(answer, tuple)]
    masters = [master for master, _ in answered if master]
    return SentinelFacts(
        master=max(set(masters), key=masters.count) if masters else None,
        reachable=len(answered),
        total=len(sentinel.sentinels),
        quorum=any(quorum for _, quorum in answered),
    )


async def _sentinel_ask(sentinel: Any, master_name: str) -> tuple[str | None, bool]:
    # The command in two words: redis-py's reply callbacks, keyed by the one-string names, would
    # turn CKQUORUM's "OK 3 usable Sentinels..." into False (they expect exactly "OK").
    address = await sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name)
    master = f"{_text(address[0])}:{_text(address[1])}" if address else None
    try:
        quorum = _text(await sentinel.execute_command("SENTINEL", "CKQUORUM", master_name))
    except Exception:  # NOQUORUM, or an unknown master: a ResponseError either way
        return master, False
    return master, quorum.startswith("OK")


async def cluster_facts(client: RedisCluster) -> tuple[str, list[ShardFacts]]:
    """CLUSTER INFO's state and CLUSTER SHARDS (Redis 7), from one node's view."""
    info = await client.execute_command("CLUSTER INFO", target_nodes=RedisCluster.RANDOM)
    shards = await client.execute_command("CLUSTER SHARDS", target_nodes=RedisCluster.RANDOM)
    return str(info.get("cluster_state", "unknown")), [_shard(shard) for shard in shards]


def _shard(shard: dict[Any, Any]) -> ShardFacts:
    nodes = [{_text(k): v for k, v in node.items()} for node in shard.get("nodes", [])]
    primaries = [node for node in nodes if _text(node.get("role")) == "master"]
    # A failed primary may still be listed beside the replica that took over: prefer an online one.
    primaries.sort(key=lambda node: _text(node.get("health")) != "online")
    primary = primaries[0] if primaries else None
    return ShardFacts(
        primary=f"{_text(primary['ip'])}:{primary['port']}" if primary else None,
        replicas=sum(1 for node in nodes if _text(node.get("role")) == "replica"),
        healthy=primary is not None and _text(primary.get("health")) == "online",
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
