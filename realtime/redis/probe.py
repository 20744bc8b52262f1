"""Real round trips to Redis: the clients a pod starts with, and one message through the layer.

Shared by the pod's start-up and by `manage.py check_redis`; every step raises RedisUnavailable
with the classified problem, so callers never see a raw redis-py error (or a password).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from channels.layers import BaseChannelLayer
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub, RedisCluster

from realtime.redis.clients import RedisClient, redis_client
from realtime.redis.cluster_layer import RedisClusterChannelLayer
from realtime.redis.errors import RedisUnavailable, redis_problem_classify
from realtime.redis.keys import PROBE_PREFIX
from realtime.redis.layer import redis_layer_new
from realtime.redis.role import redis_role_check
from realtime.redis.url import RedisMode, RedisTarget
from realtime.tasks import tasks_cancel


@asynccontextmanager
async def redis_classified(target: RedisTarget) -> AsyncIterator[None]:
    """Re-raise any failure inside as RedisUnavailable with its documented error text."""
    try:
        yield
    except RedisUnavailable:
        raise
    except Exception as error:
        raise RedisUnavailable(redis_problem_classify(error, target)) from None


@asynccontextmanager
async def redis_connected(target: RedisTarget, timeout: float) -> AsyncIterator[RedisClient]:
    """A client that has answered PING, connected and authenticated, on a server that suits the
    URL's topology (role.py)."""
    client = redis_client(target, timeout)
    try:
        async with redis_classified(target), asyncio.timeout(timeout):
            await client.ping()
            if target.mode is not RedisMode.CLUSTER:
                await redis_role_check(client)
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_subscribed(target: RedisTarget, timeout: float) -> AsyncIterator[PubSub]:
    """A pub/sub connection whose SUBSCRIBE Redis has confirmed."""
    client = redis_client(target, timeout)
    channel = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    pubsub: PubSub | None = None
    try:
        async with redis_classified(target), asyncio.timeout(timeout):
            if isinstance(client, RedisCluster):
                await client.initialize()  # ClusterPubSub routes by the slot map it reads here
            pubsub = client.pubsub()
            if isinstance(pubsub, ClusterPubSub):  # the layer's sharded pub/sub, on its shard
                await pubsub.ssubscribe(channel)
                while await pubsub.get_sharded_message(timeout=timeout) is None:
                    pass
            else:
                await pubsub.subscribe(channel)
                while await pubsub.get_message(timeout=timeout) is None:
                    pass
        yield pubsub
    finally:
        if pubsub is not None:
            await pubsub.aclose()
        await client.aclose()


async def layer_roundtrip(target: RedisTarget, timeout: float) -> float:
    """Send to a group from one instance of the configured layer, receive on another (on a
    cluster, a group on every shard); seconds."""
    sender, receiver = redis_layer_new(target), redis_layer_new(target)
    with _layer_errors_caught() as layer_errors:
        try:
            async with redis_classified(target), asyncio.timeout(timeout):
                groups = await _probe_groups(target, receiver, timeout)
                channel = await receiver.new_channel()
                for group in groups:
                    await receiver.group_add(group, channel)
                started = time.perf_counter()
                for group in groups:
                    await sender.group_send(group, {"type": "probe", "group": group})
                for _ in groups:
                    message = await layer_errors.first(receiver.receive(channel))
                    if message.get("type") != "probe" or message.get("group") not in groups:
                        raise RuntimeError(f"expected the probe message back, got {message!r}")
                return time.perf_counter() - started
        finally:
            await sender.flush()
            await receiver.flush()


async def _probe_groups(target: RedisTarget, layer: BaseChannelLayer, timeout: float) -> list[str]:
    """One probe group, or on a cluster one whose shard channel each primary owns."""
    if not isinstance(layer, RedisClusterChannelLayer):
        return [f"{PROBE_PREFIX}{uuid.uuid4().hex}"]
    client = redis_client(target, timeout)
    try:
        await client.initialize()
        by_primary: dict[str, str] = {}
        primaries = len(client.get_primaries())
        while len(by_primary) < primaries:  # random names: a few tries per shard
            group = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
            by_primary.setdefault(client.get_node_from_key(layer.group_key(group)).name, group)
        return list(by_primary.values())
    finally:
        await client.aclose()


class _LayerErrors(logging.Handler):
    """Errors channels_redis's receive task logs with a traceback, then retries forever."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.error: BaseException | None = None
        self.failed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] and self.error is None:
            self.error = record.exc_info[1]
            self.failed.set()

    async def first(self, receiving: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
        """What `receiving` returns, or raise the layer's error as soon as it logs one."""
        receive = asyncio.create_task(receiving, name="probe-receive")
        failed = asyncio.create_task(self.failed.wait(), name="probe-layer-failed")
        try:
            await asyncio.wait({receive, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await tasks_cancel([receive, failed])
        if not receive.cancelled():
            return receive.result()  # the message, or receive's own error
        assert self.error is not None
        raise self.error


@contextmanager
def _layer_errors_caught() -> Iterator[_LayerErrors]:
    """A round trip fails fast with the layer's own error (a NOPERM SUBSCRIBE, say) instead of
    waiting for its timeout, and the operator sees that error classified, not a traceback."""
    layer_logger = logging.getLogger("channels_redis")
    handler, propagate = _LayerErrors(), layer_logger.propagate
    layer_logger.addHandler(handler)
    layer_logger.propagate = False
    try:
        yield handler
    finally:
        layer_logger.removeHandler(handler)
        layer_logger.propagate = propagate
