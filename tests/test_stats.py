"""realtime.stats: counters and snapshots; realtime.stats_publish and stats_read: publishing
to Redis (a real redis-server) or to memory, and reading it back for the admin."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

import pytest
from channels.layers import InMemoryChannelLayer

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
from realtime.stats_read import redis_health, snapshots_read
from tests.conftest import REDIS_PASSWORD


def fake_connection(connection_id: str, rooms: int = 0) -> SimpleNamespace:
    return SimpleNamespace(connection_id=connection_id, rooms={f"r{n}" for n in range(rooms)})


async def started_rooms(name: str = "p") -> PodRooms:
    rooms = PodRooms(
        InMemoryChannelLayer(), lambda pod: LocalMembership(pod.local_counts), name, inbox_size=10
    )
    await rooms.start()
    return rooms


def member(connection_id: str) -> SimpleNamespace:
    async def send_text(text: str) -> None:
        return None

    return SimpleNamespace(connection_id=connection_id, send_text=send_text)


def test_connections_now_peak_and_the_open_registry() -> None:
    stats = PodStats()
    a, b = fake_connection("a"), fake_connection("b")
    stats.connection_opened(a)
    stats.connection_opened(b)
    stats.connection_closed(a)
    assert (stats.connections, stats.peak_connections) == (1, 2)
    assert (stats.connects, stats.disconnects) == (2, 1)
    assert list(stats.open_by_id) == ["b"]


def test_busiest_is_largest_first_then_by_name() -> None:
    assert busiest({"b": 2, "a": 2, "c": 5, "d": 1}, 3) == {"c": 5, "a": 2, "b": 2}


async def test_snapshot_carries_counters_rooms_and_newest_connections() -> None:
    stats = PodStats()
    for number in range(SNAPSHOT_CONNECTIONS + 5):
        stats.connection_opened(fake_connection(f"c{number}", rooms=number % 3))
    stats.messages_in, stats.messages_out, stats.joins = 10, 20, 3
    stats.errors["bad_json"] += 2
    rooms = await started_rooms("pod-x")
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
    }
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


async def test_redis_publisher_writes_an_expiring_snapshot_and_history(redis_with_password) -> None:
    target = redis_target_parse(redis_with_password.url())
    rooms = await started_rooms("pod-r")
    await rooms.join("lobby", member("m1"))
    publisher = StatsPublisher(rooms, "pod-r", 1, (redis_client(target, 2), target))
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


async def test_publish_failures_are_counted_and_logged_once(caplog, silent_server) -> None:
    host, port = silent_server
    target = redis_target_parse(f"redis://:{REDIS_PASSWORD.replace('/', '%2F')}@{host}:{port}")
    rooms = await started_rooms("pod-f")
    publisher = StatsPublisher(rooms, "pod-f", 0.2, (redis_client(target, 0.2), target))
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


async def test_redis_health_reads_info_or_gives_the_error(redis_with_password) -> None:
    target = redis_target_parse(redis_with_password.url())
    client = redis_client(target, 2)
    health = await redis_health(client, target, 2)
    await client.aclose()
    assert health.error is None and health.version and health.role == "master"
    assert health.connected_clients and health.used_memory and health.ping_ms is not None
    assert health.url == target.masked
    wrong = redis_target_parse(redis_with_password.url(password="not-it"))
    client = redis_client(wrong, 2)
    health = await redis_health(client, wrong, 2)
    await client.aclose()
    assert health.error == "Error: WRONGPASS invalid username-password pair or user is disabled."


def test_chart_has_one_line_per_pod_inside_the_plot() -> None:
    now = 10_000.0
    chart = chart_build({"b": [(now - 60, 3), (now, 5)], "a": [(now - 7200, 9)]}, now)
    assert [line.label for line in chart.lines] == ["b"]  # a's only point is older than an hour
    for pair in chart.lines[0].points.split():
        x, y = map(float, pair.split(","))
        assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom
    assert chart.y_ticks[-1].label == "5"
