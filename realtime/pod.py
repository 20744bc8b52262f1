"""This process's rooms on the running event loop, created and started on first use."""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer
from django.conf import settings

from realtime.layers import LayerName, layer_status
from realtime.membership import LocalMembership, RedisMembership
from realtime.redis_probe import redis_client
from realtime.redis_url import redis_target_parse
from realtime.rooms import PodRooms
from realtime.stats_publish import stats_publisher_start, stats_publisher_stop

_pods: dict[asyncio.AbstractEventLoop, asyncio.Task[PodRooms]] = {}


async def pod_rooms() -> PodRooms:
    loop = asyncio.get_running_loop()
    if loop not in _pods:
        _pods[loop] = loop.create_task(_pod_rooms_start())
    return await asyncio.shield(_pods[loop])


async def pod_rooms_stop() -> None:
    """Stop this loop's rooms (tests, shutdown): leave every room in Redis at once."""
    task = _pods.pop(asyncio.get_running_loop(), None)
    if task is not None:
        await stats_publisher_stop(await task)
        await (await task).stop()


def membership_for(rooms: PodRooms) -> LocalMembership | RedisMembership:
    if layer_status().name is not LayerName.REDIS:
        return LocalMembership(rooms.local_counts)
    target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
    return RedisMembership(
        redis_client(target, settings.REDIS_CONNECT_TIMEOUT),
        rooms.pod_id,
        rooms.local_counts,
        heartbeat_seconds=settings.REALTIME_HEARTBEAT_SECONDS,
        pod_timeout_seconds=settings.REALTIME_POD_TIMEOUT_SECONDS,
    )


async def _pod_rooms_start() -> PodRooms:
    rooms = PodRooms(
        get_channel_layer(),
        membership_for,
        settings.POD_NAME,
        inbox_size=settings.REALTIME_POD_INBOX,
    )
    await rooms.start()
    stats_publisher_start(rooms)
    return rooms
