"""This process's rooms on the running event loop, created and started on first use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from realtime.layers import LayerName, layer_status, layer_use_redis
from realtime.membership import LocalMembership, RedisMembership
from realtime.redis_errors import RedisUnavailable
from realtime.redis_probe import redis_client, redis_connected
from realtime.redis_url import InvalidRedisUrl, redis_target_parse
from realtime.rooms import PodRooms
from realtime.startup import redis_connect_logged
from realtime.stats_publish import stats_publisher_start, stats_publisher_stop

logger = logging.getLogger(__name__)
_pods: dict[asyncio.AbstractEventLoop, asyncio.Task[PodRooms]] = {}
_background: set[asyncio.Task[None]] = set()


async def pod_rooms() -> PodRooms:
    loop = asyncio.get_running_loop()
    if loop not in _pods:
        _pods[loop] = loop.create_task(_pod_rooms_start())
    return await asyncio.shield(_pods[loop])


async def pod_rooms_stop() -> None:
    """Stop this loop's rooms (tests): leave every room and the stats at once."""
    task = _pods.pop(asyncio.get_running_loop(), None)
    if task is not None:
        await pod_leave(await task)


async def pod_leave(rooms: PodRooms) -> None:
    """Leave every room, the member counts and the stats, as a pod that is going away."""
    await stats_publisher_stop(rooms)
    await rooms.stop()


def membership_for(rooms: PodRooms) -> LocalMembership | RedisMembership:
    if layer_status().name is not LayerName.REDIS:
        return LocalMembership()
    target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
    return RedisMembership(
        redis_client(target, settings.REDIS_CONNECT_TIMEOUT),
        rooms.pod_id,
        rooms.local_counts,
        heartbeat_seconds=settings.REALTIME_HEARTBEAT_SECONDS,
        pod_timeout_seconds=settings.REALTIME_POD_TIMEOUT_SECONDS,
    )


def task_in_background(coroutine: Coroutine[Any, Any, None], name: str) -> None:
    """Run a task nobody awaits, holding a reference until it ends (the loop's is weak)."""
    task = asyncio.get_running_loop().create_task(coroutine, name=name)
    _background.add(task)
    task.add_done_callback(_background.discard)


def pod_rooms_started() -> PodRooms | None:
    """This loop's rooms if they are up, without starting them (readiness asks)."""
    task = _pods.get(asyncio.get_running_loop())
    return task.result() if task and task.done() and not task.exception() else None


async def _pod_rooms_start() -> PodRooms:
    rooms = PodRooms(
        get_channel_layer(),
        membership_for,
        settings.POD_NAME,
        inbox_size=settings.REALTIME_POD_INBOX,
    )
    await rooms.start()
    if layer_status().degraded and settings.REDIS_URL:
        task_in_background(_redis_rejoin(rooms), "redis-rejoin")
    stats_publisher_start(rooms)
    return rooms


async def _redis_rejoin(rooms: PodRooms) -> None:
    """A pod that fell back keeps trying Redis; once it answers, the pod joins the others."""
    try:
        target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
    except InvalidRedisUrl:
        return  # a malformed URL will not heal by itself; start-up logged it
    timeout = settings.REDIS_CONNECT_TIMEOUT
    while True:
        await asyncio.sleep(settings.REALTIME_REDIS_RETRY_SECONDS)
        try:
            async with redis_connected(target, timeout):
                pass
            await redis_connect_logged(target, timeout)
        except RedisUnavailable:
            continue
        layer_use_redis(target)
        await rooms.transport_replace(get_channel_layer(), membership_for(rooms))
        logger.warning("Redis is reachable again: this pod now shares its rooms with the others")
        return
