"""A pod's start-up: reach Redis and say so in SPEC.md's four lines, or fall back to memory.

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

from django.conf import settings

from realtime.layers import LayerStatus, layer_fall_back, layer_status, layer_use_redis
from realtime.redis_errors import (
    RedisProblem,
    RedisUnavailable,
    redis_problem_invalid_url,
)
from realtime.redis_probe import layer_roundtrip, redis_connected, redis_subscribed
from realtime.redis_url import InvalidRedisUrl, RedisTarget, redis_target_parse

logger = logging.getLogger(__name__)

FALLBACK_MESSAGE = "Falling back to in-memory channel layer (no multi-pod support)"
# New objects between two collections of the youngest generation (CPython: 700). A delivery to a
# big room keeps a few objects per socket alive until the writes go out; at 700 collections ran
# mid-delivery, promoted them, and full collections took 30 % of a pod sending to a room of
# 10,000 (README, Performance). Cyclic garbage is rare here; this costs no memory to speak of.
GC_YOUNG_THRESHOLD = 50_000


def pod_start() -> LayerStatus:
    """Decide this pod's channel layer; exit when REDIS_REQUIRED and Redis cannot be used."""
    try:
        return _layer_decide()
    finally:
        # What start-up built (Django, the apps, settings) lives as long as the pod: leave it
        # out of the cyclic collector's full scans, which otherwise grow costly per delivery.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _layer_decide() -> LayerStatus:
    if not settings.REDIS_URL:
        logger.info("REDIS_URL is not set: using the in-memory channel layer (one pod)")
        return layer_status()
    try:
        target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
        _run_in_own_loop(redis_connect_logged(target, settings.REDIS_CONNECT_TIMEOUT))
    except InvalidRedisUrl as error:
        _refuse_or_fall_back(redis_problem_invalid_url(error))
    except RedisUnavailable as error:
        _refuse_or_fall_back(error.problem)
    else:
        layer_use_redis(target)
    return layer_status()


async def redis_connect_logged(target: RedisTarget, timeout: float) -> None:
    """Connect as a pod does, logging SPEC.md's lines, each once it is true."""
    logger.info("Connecting to Redis: %s", target.masked)
    async with redis_connected(target, timeout):
        logger.info("Redis pub client connected")
        async with redis_subscribed(target, timeout):
            logger.info("Redis sub client connected")
            await layer_roundtrip(target, timeout)
            logger.info("Redis adapter initialized successfully")


def _refuse_or_fall_back(problem: RedisProblem) -> None:
    logger.error(problem.error)
    logger.error(problem.solution)
    if settings.REDIS_REQUIRED:
        logger.critical("REDIS_REQUIRED is true: not starting without Redis")
        raise SystemExit(problem.exit_code)
    logger.warning(FALLBACK_MESSAGE)
    layer_fall_back(problem)


def _run_in_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own: the server's loop may exist already (daphne) or be running."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="redis-start") as pool:
        pool.submit(asyncio.run, coroutine).result()
