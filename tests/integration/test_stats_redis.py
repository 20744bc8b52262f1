"""realtime.ops.stats_publish and stats_read against a real redis-server: expiring snapshots
and history, failures counted and logged once, and Redis's health as check_redis reads it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

from realtime.config import realtime_config
from realtime.ops.stats_read import snapshots_read, stats_overview
from realtime.pod.lifecycle import Pod
from realtime.redis.clients import redis_client
from realtime.redis.keys import stats_history_key, stats_key
from realtime.redis.layer import redis_layer_new
from realtime.redis.url import redis_target_parse
from tests.conftest import REDIS_PASSWORD
from tests.unit.fanout.test_hub import RecordingMember


@pytest.fixture
def redis_layer_in_use(settings) -> Iterator[Callable[[str], None]]:
    """This process on channels_redis's layer at `url`, as a pod that reached Redis is."""
    previous = channel_layers.backends.get(DEFAULT_CHANNEL_LAYER)

    def use(url: str) -> None:
        settings.REDIS_URL = url
        layer = redis_layer_new(redis_target_parse(url))
        channel_layers.set(DEFAULT_CHANNEL_LAYER, layer)

    yield use
    if previous is None:
        channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    else:
        channel_layers.set(DEFAULT_CHANNEL_LAYER, previous)


async def test_redis_publisher_writes_an_expiring_snapshot_and_history(
    settings, redis_with_password, redis_layer_in_use
) -> None:
    settings.POD_NAME = "pod-r"
    settings.REALTIME_STATS_SECONDS = 1
    redis_layer_in_use(redis_with_password.url())
    pod = Pod(realtime_config())
    await pod.start()
    await pod.hub.join("lobby", RecordingMember("m1"))
    await pod.stats.publish()
    await pod.stats.publish()
    with redis_with_password.client() as client:
        assert 0 < client.ttl(stats_key(pod.pod_id)) <= 30
        assert client.zcard(stats_history_key(pod.pod_id)) >= 2
    reader = redis_client(redis_target_parse(redis_with_password.url()), 2)
    pods, history = await snapshots_read(reader)
    mine = next(snapshot for snapshot in pods if snapshot["pod_id"] == pod.pod_id)
    assert (mine["pod"], mine["layer"], mine["rooms"]) == ("pod-r", "redis", {"lobby": 1})
    assert {count for _, count in history[pod.pod_id]} == {0}
    await pod.stop()
    pods, _ = await snapshots_read(reader)
    assert pod.pod_id not in [snapshot["pod_id"] for snapshot in pods]  # a clean stop leaves
    await reader.aclose()


async def test_publish_failures_are_counted_and_logged_once(
    caplog, silent_server, settings, redis_layer_in_use
) -> None:
    host, port = silent_server
    settings.REDIS_CONNECT_TIMEOUT = 0.2
    settings.REALTIME_STATS_SECONDS = 0.2
    redis_layer_in_use(f"redis://:{quote(REDIS_PASSWORD, safe='')}@{host}:{port}")
    pod = Pod(realtime_config())  # not started: its publisher alone talks to the silent Redis
    with caplog.at_level(logging.INFO, logger="realtime"):
        for _ in range(3):
            await pod.stats.publish()  # never raises
    assert pod.counters.redis_errors == 3
    failures = [r for r in caplog.records if "Publishing pod stats to Redis failed" in r.message]
    assert len(failures) == 1
    assert "ETIMEDOUT" in failures[0].message
    assert REDIS_PASSWORD not in caplog.text
    await asyncio.wait_for(pod.stats.stop(), 5)


async def test_overview_reads_redis_health_as_check_redis_does(
    settings, redis_with_password
) -> None:
    settings.REDIS_URL = redis_with_password.url()
    health = (await stats_overview(realtime_config())).redis
    assert health is not None and health.error is None
    assert health.version and health.role == "master" and health.ping_ms is not None
    assert health.connected_clients and health.used_memory
    assert health.layer_roundtrip_ms is None  # no round trip on every page view
    assert health.url == redis_target_parse(settings.REDIS_URL).masked
    settings.REDIS_URL = redis_with_password.url(password="not-it")
    health = (await stats_overview(realtime_config())).redis
    assert health is not None
    assert health.error == "Error: WRONGPASS invalid username-password pair or user is disabled."
