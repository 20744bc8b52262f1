"""A pod's start-up: reach Redis and say so in the four lines of docs/operations.md, or fall
back to memory.

daphne has no ASGI lifespan, so this runs while murror.asgi is imported, before the server
listens: a pod never takes a connection before its layer is decided.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from realtime.access.rooms import room_authorizer
from realtime.config import RedisConfig, realtime_config
from realtime.pod.layers import LayerName, layer_fall_back, layer_in_use, layer_use_redis
from realtime.protocols.handlers import handlers_import
from realtime.redis.errors import RedisProblem, RedisUnavailable, redis_problem_invalid_url
from realtime.redis.probe import layer_roundtrip, redis_connected, redis_subscribed
from realtime.redis.url import RedisTarget

logger = logging.getLogger(__name__)

FALLBACK_MESSAGE = "Falling back to in-memory channel layer (no multi-pod support)"
# New objects between two collections of the youngest generation (CPython: 700). A delivery to a
# big room keeps a few objects per socket alive until the writes go out; at 700 collections ran
# mid-delivery, promoted them, and full collections took 30 % of a pod sending to a room of
# 10,000 (docs/performance.md). Cyclic garbage is rare here; this costs no memory to speak of.
GC_YOUNG_THRESHOLD = 50_000


def pod_start() -> LayerName:
    """Decide this pod's channel layer (exit when REDIS_REQUIRED and Redis cannot be used), and
    import the server-side handlers of REALTIME_HANDLERS and REALTIME_ROOM_AUTHORIZER."""
    try:
        config = realtime_config()
        _layer_decide(config.redis)
        handlers_import(config.handlers)
        if config.room_authorizer:
            room_authorizer(config.room_authorizer)
        return layer_in_use()
    finally:
        # What start-up built (Django, the apps, settings) lives as long as the pod: leave it
        # out of the cyclic collector's full scans, which otherwise grow costly per delivery.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _layer_decide(redis: RedisConfig) -> None:
    if redis.url.error is not None:
        _refuse_or_fall_back(redis_problem_invalid_url(redis.url.error), redis.required)
        return
    target = redis.url.target
    if target is None:
        logger.info("REDIS_URL is not set: using the in-memory channel layer (one pod)")
        return
    try:
        _run_in_own_loop(redis_connect_logged(target, redis.connect_timeout))
    except RedisUnavailable as error:
        _refuse_or_fall_back(error.problem, redis.required)
    else:
        layer_use_redis(target)


async def redis_connect_logged(target: RedisTarget, timeout: float) -> None:
    """Connect as a pod does, logging the four documented lines, each once it is true."""
    logger.info("Connecting to Redis: %s", target.masked)
    async with redis_connected(target, timeout):
        logger.info("Redis pub client connected")
        async with redis_subscribed(target, timeout):
            logger.info("Redis sub client connected")
            await layer_roundtrip(target, timeout)
            logger.info("Redis adapter initialized successfully")


def _refuse_or_fall_back(problem: RedisProblem, required: bool) -> None:
    logger.error(problem.error)
    logger.error(problem.solution)
    if required:
        logger.critical("REDIS_REQUIRED is true: not starting without Redis")
        raise SystemExit(problem.exit_code)
    logger.warning(FALLBACK_MESSAGE)
    layer_fall_back(problem)


def _run_in_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own: the server's loop may exist already (daphne) or be running."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="redis-start") as pool:
        pool.submit(asyncio.run, coroutine).result()
