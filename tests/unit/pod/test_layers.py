"""realtime.pod.layers: the layer in use is the one Channels' manager holds, swapped through
`channel_layers.set`, never by writing settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from django.conf import settings

from realtime.ops.health import readiness
from realtime.pod.layers import (
    FallbackLayer,
    LayerName,
    layer_fall_back,
    layer_fallback_problem,
    layer_in_use,
    layer_use_redis,
)
from realtime.redis.errors import RedisProblem
from realtime.redis.url import redis_target_parse

PROBLEM = RedisProblem("Error: connect ECONNREFUSED 10.0.0.3:6379", "Solution: start Redis")


@pytest.fixture(autouse=True)
def layer_restored() -> Iterator[None]:
    previous = channel_layers.backends.get(DEFAULT_CHANNEL_LAYER)
    yield
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if previous is not None:
        channel_layers.set(DEFAULT_CHANNEL_LAYER, previous)


def test_a_fallback_swaps_the_layer_and_leaves_settings_alone() -> None:
    configured = dict(settings.CHANNEL_LAYERS)
    layer_fall_back(PROBLEM)
    assert isinstance(get_channel_layer(), FallbackLayer)
    assert layer_in_use() is LayerName.MEMORY
    assert layer_fallback_problem() == PROBLEM
    assert configured == settings.CHANNEL_LAYERS


def test_reaching_redis_swaps_in_the_redis_layer() -> None:
    layer_use_redis(redis_target_parse("redis://:pw@10.0.0.3:6379/0"))
    assert layer_in_use() is LayerName.REDIS
    assert layer_fallback_problem() is None


async def test_readiness_says_degraded_after_a_fallback_only() -> None:
    assert await readiness() == (200, {"status": "ok", "layer": "memory"})
    layer_fall_back(PROBLEM)
    assert await readiness() == (200, {"status": "ok", "layer": "memory", "degraded": True})
