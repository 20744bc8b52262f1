"""A pod that fell back to memory at start-up keeps trying Redis; once Redis answers, the pod
joins the others."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from realtime.pod.startup import redis_connect_logged
from realtime.redis.errors import RedisUnavailable
from realtime.redis.probe import redis_connected
from realtime.redis.url import RedisTarget

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod

logger = logging.getLogger(__name__)


async def redis_rejoin(pod: Pod, target: RedisTarget) -> None:
    """Every REALTIME_REDIS_RETRY_SECONDS: a quiet PING, then, once it answers, the four
    start-up lines and the move of every room onto the Redis layer."""
    timeout = pod.config.redis.connect_timeout
    while True:
        await asyncio.sleep(pod.config.redis.retry_seconds)
        try:
            async with redis_connected(target, timeout):
                pass
            await redis_connect_logged(target, timeout)
        except RedisUnavailable:
            continue
        await pod.redis_reached()
        logger.warning("Redis is reachable again: this pod now shares its rooms with the others")
        return
