"""realtime.stats: counters and snapshots; realtime.stats_publish and stats_read: publishing
to Redis (a real redis-server) or to memory, and reading it back for the admin."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from channels.layers import InMemoryChannelLayer

from realtime.layers import LayerName, LayerStatus
from realtime.membership import LocalMembership
from realtime.redis_probe import redis_client
from realtime.redis_url import redis_target_parse
from realtime.rooms import PodRooms
from realtime.stats import (
    SNAPSHOT_CONNECTIONS,
    SNAPSHOT_ROOMS,
    PodStats,
    busiest,
    pod_stats,
    stats_snapshot,
)
from realtime.stats_chart import chart_build
from realtime.stats_publish import (
    HISTORY_SECONDS,
    StatsPublisher,
    history_key,
    local_records,
    stats_key,
)
from realtime.stats_read import snapshots_read, stats_overview
from tests.conftest import REDIS_PASSWORD


def fake_connection(connection_id: str, rooms: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        connection_id=connection_id,
        rooms={f"r{n}" for n in range(rooms)},
        connected_at=time.time(),
        user=SimpleNamespace(username="alice") if rooms == 1 else None,
    )


@pytest.fixture
def redis_layer_in_use(settings, monkeypatch):
    """The publisher sees the Redis layer in use, with REDIS_URL pointing at `url`."""

    def use(url: str) -> None:
        settings.REDIS_URL = url
        redis_status = LayerStatus(LayerName.REDIS)
        monkeypatch.setattr("realtime.stats_publish.layer_status", lambda: redis_status)

    return use


async def started_rooms(name: str = "p") -> PodRooms:
    rooms = PodRooms(InMemoryChannelLayer(), lambda pod: LocalMembership(), name, inbox_size=10)
    await rooms.start()
    return rooms


def member(connection_id: str) -> SimpleNamespace:
    async def send_text(text: str) -> None:
        return None

    return SimpleNamespace(connection_id=connection_id, send_text=send_text)


def test_connections_now_and_peak() -> None:
    stats = PodStats()
    stats.connection_opened()
    stats.connection_opened()
    stats.connection_closed()
    assert (stats.connections, stats.peak_connections) == (1, 2)
    assert (stats.connects, stats.disconnects) == (2, 1)


def test_busiest_is_largest_first_then_by_name() -> None:
    assert busiest({"b": 2, "a": 2, "c": 5, "d": 1}, 3) == {"c": 5, "a": 2, "b": 2}


async def test_snapshot_carries_counters_rooms_and_newest_connections() -> None:
    stats = PodStats()
    rooms = await started_rooms("pod-x")
    for number in range(SNAPSHOT_CONNECTIONS + 5):
        stats.connection_opened()
        rooms.connection_add(fake_connection(f"c{number}", rooms=number % 3))
    stats.messages_in, stats.messages_out, stats.joins = 10, 20, 3
    stats.errors["bad_json"] += 2
    for number in range(SNAPSHOT_ROOMS + 10):
        for index in range(number % 4 + 1):
            await rooms.join(f"room{number}", member(f"m{number}-{index}"))
    snapshot = stats_snapshot(stats, rooms, "pod-x", "memory")
    json.dumps(snapshot)  # published as JSON
    assert snapshot["pod"] == "pod-x"
    assert snapshot["pod_id"] == rooms.pod_id and snapshot["channel"] == rooms.channel
    assert snapshot["connections"] == snapshot["peak"] == SNAPSHOT_CONNECTIONS + 5
    assert (snapshot["messages_in"], snapshot["messages_out"], snapshot["joins"]) == (10, 20, 3)
    assert snapshot["errors"] == {"bad_json": 2}
    assert snapshot["rooms_count"] == SNAPSHOT_ROOMS + 10
    assert len(snapshot["rooms"]) == SNAPSHOT_ROOMS
    assert set(snapshot["rooms"].values()) == {4, 3, 2, 1}
    assert min(snapshot["rooms"].values()) >= max(
        count for room, count in rooms.local_counts().items() if room not in snapshot["rooms"]
    )
    newest = snapshot["open_connections"]
    assert len(newest) == SNAPSHOT_CONNECTIONS
    assert newest[0] == {
        "id": f"c{SNAPSHOT_CONNECTIONS + 4}",
        "rooms": (SNAPSHOT_CONNECTIONS + 4) % 3,
        "connected_at": pytest.approx(snapshot["taken_at"], abs=5),
        "user": None,
    }
    assert newest[1]["user"] == "alice"  # c103 is in one room: fake_connection gives it a user
    assert snapshot["messages_in_per_second"] == 0.0
    await rooms.stop()


def test_rates_per_second_come_from_the_previous_snapshot() -> None:
    stats = PodStats()
    first = stats_snapshot(stats, None, "p", "memory")
    stats.messages_in, stats.messages_out = 50, 100
    second = stats_snapshot(stats, None, "p", "memory", previous={**first, "taken_at": 0})
    elapsed = second["taken_at"]
    assert second["messages_in_per_second"] == round(50 / elapsed, 2)
    third = stats_snapshot(stats, None, "p", "memory", previous={**second, "taken_at": 0})
    assert third["messages_out_per_second"] == 0.0  # nothing new since


async def test_memory_publisher_keeps_the_snapshot_and_an_hour_of_history() -> None:
    rooms = await started_rooms("solo")
    publisher = StatsPublisher(rooms, "solo", interval=5)
    await publisher.publish()
    record = local_records[rooms.pod_id]
    record.history.appendleft((record.snapshot["taken_at"] - HISTORY_SECONDS - 10, 7))
    await publisher.publish()
    assert record.snapshot["pod"] == "solo"
    assert [count for _, count in record.history] == [0, 0]  # the old point was trimmed
    await publisher.stop()
    assert rooms.pod_id not in local_records
    await rooms.stop()


async def test_redis_publisher_writes_an_expiring_snapshot_and_history(
    redis_with_password, redis_layer_in_use
) -> None:
    target = redis_target_parse(redis_with_password.url())
    redis_layer_in_use(redis_with_password.url())
    rooms = await started_rooms("pod-r")
    await rooms.join("lobby", member("m1"))
    publisher = StatsPublisher(rooms, "pod-r", 1)
    await publisher.publish()
    await publisher.publish()
    with redis_with_password.client() as client:
        assert 0 < client.ttl(stats_key(rooms.pod_id)) <= 30
        assert client.zcard(history_key(rooms.pod_id)) == 2
    reader = redis_client(target, 2)
    pods, history = await snapshots_read(reader)
    mine = next(pod for pod in pods if pod["pod_id"] == rooms.pod_id)
    assert (mine["pod"], mine["layer"], mine["rooms"]) == ("pod-r", "redis", {"lobby": 1})
    assert [count for _, count in history[rooms.pod_id]] == [0, 0]
    await publisher.stop()
    pods, _ = await snapshots_read(reader)
    assert rooms.pod_id not in [pod["pod_id"] for pod in pods]  # a clean stop leaves at once
    await reader.aclose()
    await rooms.stop()


async def test_publish_failures_are_counted_and_logged_once(
    caplog, silent_server, settings, redis_layer_in_use
) -> None:
    host, port = silent_server
    settings.REDIS_CONNECT_TIMEOUT = 0.2
    redis_layer_in_use(f"redis://:{quote(REDIS_PASSWORD, safe='')}@{host}:{port}")
    rooms = await started_rooms("pod-f")
    publisher = StatsPublisher(rooms, "pod-f", 0.2)
    errors_before = pod_stats.redis_errors
    with caplog.at_level(logging.INFO, logger="realtime"):
        for _ in range(3):
            await publisher.publish()  # never raises
    assert pod_stats.redis_errors == errors_before + 3
    failures = [r for r in caplog.records if "Publishing pod stats to Redis failed" in r.message]
    assert len(failures) == 1
    assert "ETIMEDOUT" in failures[0].message
    assert REDIS_PASSWORD not in caplog.text
    await asyncio.wait_for(publisher.stop(), 5)
    await rooms.stop()


async def test_overview_reads_redis_health_as_check_redis_does(
    settings, redis_with_password
) -> None:
    settings.REDIS_URL = redis_with_password.url()
    health = (await stats_overview()).redis
    assert health is not None and health.error is None
    assert health.version and health.role == "master" and health.ping_ms is not None
    assert health.connected_clients and health.used_memory
    assert health.layer_roundtrip_ms is None  # no round trip on every page view
    assert health.url == redis_target_parse(settings.REDIS_URL).masked
    settings.REDIS_URL = redis_with_password.url(password="not-it")
    health = (await stats_overview()).redis
    assert health is not None
    assert health.error == "Error: WRONGPASS invalid username-password pair or user is disabled."


def test_chart_has_one_line_per_pod_inside_the_plot() -> None:
    now = 10_000.0
    chart = chart_build({"b": [(now - 60, 3), (now, 5)], "a": [(now - 7200, 9)]}, now)
    assert [line.label for line in chart.lines] == ["b"]  # a's only point is older than an hour
    for pair in chart.lines[0].points.split():
        x, y = map(float, pair.split(","))
        assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom
    assert chart.y_ticks[-1].label == "5"
