"""Which channel layer this pod uses: Redis when REDIS_URL is set and reachable, else in memory."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings
from django.utils.module_loading import import_string

from realtime.redis_errors import RedisProblem
from realtime.redis_url import InvalidRedisUrl, RedisTarget, TlsOptions, redis_target_parse


class LayerName(enum.Enum):
    MEMORY = "memory"
    REDIS = "redis"


@dataclass(frozen=True)
class LayerStatus:
    """The layer in use, and why it is in memory when Redis was configured (a fallback)."""

    name: LayerName
    fallback_problem: RedisProblem | None = None

    @property
    def degraded(self) -> bool:
        return self.fallback_problem is not None


def in_memory_layer() -> dict[str, Any]:
    return {DEFAULT_CHANNEL_LAYER: {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def redis_layer(target: RedisTarget) -> dict[str, Any]:
    return {
        DEFAULT_CHANNEL_LAYER: {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [target.connection_kwargs()], "prefix": "murror"},
        }
    }


def redis_layer_new(target: RedisTarget) -> Any:
    """A fresh instance of the Redis layer exactly as `redis_layer` configures it."""
    config = redis_layer(target)[DEFAULT_CHANNEL_LAYER]
    return import_string(config["BACKEND"])(**config["CONFIG"])


def channel_layers_for(redis_url: str, tls: TlsOptions) -> dict[str, Any]:
    """CHANNEL_LAYERS for settings: a malformed URL gets the in-memory layer here, and its
    error is logged by the pod's start-up, which owns the fallback."""
    if not redis_url:
        return in_memory_layer()
    try:
        return redis_layer(redis_target_parse(redis_url, tls))
    except InvalidRedisUrl:
        return in_memory_layer()


def layer_status() -> LayerStatus:
    return _status


def layer_use_redis(target: RedisTarget) -> None:
    _layers_replace(redis_layer(target))
    _set_status(LayerStatus(LayerName.REDIS))


def layer_fall_back(problem: RedisProblem) -> None:
    """Serve on the in-memory layer although Redis is configured: one pod, no cross-pod rooms."""
    _layers_replace(in_memory_layer())
    _set_status(LayerStatus(LayerName.MEMORY, fallback_problem=problem))


def _layers_replace(layers: dict[str, Any]) -> None:
    """Point Channels at other layers; get_channel_layer() builds the new one on next use."""
    settings.CHANNEL_LAYERS = layers
    channel_layers.backends.clear()


def _set_status(status: LayerStatus) -> None:
    global _status
    _status = status


_status = LayerStatus(LayerName.MEMORY)
