"""Which channel layer this pod uses: Redis when REDIS_URL is set and reachable, else in memory.

The layer in use is whatever Channels' layer manager holds: settings give it the configured one,
start-up swaps it through `channel_layers.set` (never by writing settings), and the name and
fallback state are read off the layer itself, so there is no second copy of them to go stale.
"""

from __future__ import annotations

import enum
from typing import Any

from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)

from realtime.redis.errors import RedisProblem
from realtime.redis.layer import redis_layer_config, redis_layer_new
from realtime.redis.url import RedisTarget, RedisUrlSetting


class LayerName(enum.Enum):
    MEMORY = "memory"
    REDIS = "redis"


class FallbackLayer(InMemoryChannelLayer):
    """The in-memory layer of a pod that has REDIS_URL but could not use Redis at start-up."""

    def __init__(self, problem: RedisProblem) -> None:
        super().__init__()
        self.problem = problem


def channel_layers_for(redis_url: RedisUrlSetting) -> dict[str, Any]:
    """CHANNEL_LAYERS for settings: a malformed URL gets the in-memory layer here, and its
    error is logged by the pod's start-up, which owns the fallback."""
    if redis_url.target is None:
        return {DEFAULT_CHANNEL_LAYER: {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return redis_layer_config(redis_url.target)


def layer_in_use() -> LayerName:
    """Settings configure the in-memory layer or one on Redis (redis/layer.py), nothing else."""
    return (
        LayerName.MEMORY
        if isinstance(get_channel_layer(), InMemoryChannelLayer)
        else LayerName.REDIS
    )


def layer_fallback_problem() -> RedisProblem | None:
    """Why this pod serves in memory although REDIS_URL is set; None when it does not."""
    layer = get_channel_layer()
    return layer.problem if isinstance(layer, FallbackLayer) else None


def layer_use_redis(target: RedisTarget) -> None:
    channel_layers.set(DEFAULT_CHANNEL_LAYER, redis_layer_new(target))


def layer_fall_back(problem: RedisProblem) -> None:
    """Serve on the in-memory layer although Redis is configured: one pod, no cross-pod rooms."""
    channel_layers.set(DEFAULT_CHANNEL_LAYER, FallbackLayer(problem))
