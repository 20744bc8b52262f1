"""realtime.ops: counters, snapshots and the in-memory stats publisher, and the chart."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from realtime.config import realtime_config
from realtime.ops.counters import PodCounters
from realtime.ops.stats import SNAPSHOT_CONNECTIONS, SNAPSHOT_ROOMS, busiest, stats_snapshot
from realtime.ops.stats_chart import chart_build
from realtime.ops.stats_publish import HISTORY_SECONDS
from realtime.ops.stats_read import stats_overview
from realtime.pod.lifecycle import Pod, pod_serving, pod_stop
from tests.unit.fanout.test_hub import RecordingMember


def fake_connection(connection_id: str, rooms: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        connection_id=connection_id,
        protocol="ws",
        address=None,
        room_names={f"r{n}" for n in range(rooms)},
        connected_at=time.time(),
        user=SimpleNamespace(username="alice") if rooms == 1 else None,
    )


@pytest.fixture
async def pod(settings) -> AsyncIterator[Pod]:
    """This event loop's pod, as the consumers start it."""
    settings.POD_NAME = "pod-x"
    yield await pod_serving()
    await pod_stop()


def test_connections_now_and_peak() -> None:
    counters = PodCounters()
    counters.connection_opened("ws")
    counters.connection_opened("socketio")
    counters.connection_closed("ws")
    assert (counters.connections, counters.peak_connections) == (1, 2)
    assert (counters.connects, counters.disconnects) == (2, 1)
    assert counters.connections_by_protocol == {"ws": 0, "socketio": 1}
    assert counters.connects_by_protocol == {"ws": 1, "socketio": 1}


def test_busiest_is_largest_first_then_by_name() -> None:
    assert busiest({"b": 2, "a": 2, "c": 5, "d": 1}, 3) == {"c": 5, "a": 2, "b": 2}


async def test_snapshot_carries_counters_rooms_and_newest_connections(pod: Pod) -> None:
    for number in range(SNAPSHOT_CONNECTIONS + 5):
        pod.connection_add(fake_connection(f"c{number}", rooms=number % 3))
    pod.counters.messages_in, pod.counters.messages_out, pod.counters.joins = 10, 20, 3
    pod.hub.counters.delivered = 5
    pod.counters.errors["bad_json"] += 2
    for number in range(SNAPSHOT_ROOMS + 10):
        for index in range(number % 4 + 1):
            await pod.hub.join(f"room{number}", RecordingMember(f"m{number}-{index}"))
    snapshot = stats_snapshot(pod)
    json.dumps(snapshot)  # published as JSON
    assert snapshot["pod"] == "pod-x"
    assert snapshot["pod_id"] == pod.pod_id and snapshot["channel"] == pod.hub.channel
    assert snapshot["layer"] == "memory"
    assert snapshot["connections"] == snapshot["peak"] == SNAPSHOT_CONNECTIONS + 5
    assert (snapshot["messages_in"], snapshot["messages_out"], snapshot["joins"]) == (10, 25, 3)
    assert snapshot["errors"] == {"bad_json": 2}
    assert snapshot["rooms_count"] == SNAPSHOT_ROOMS + 10
    assert len(snapshot["rooms"]) == SNAPSHOT_ROOMS
    assert set(snapshot["rooms"].values()) == {4, 3, 2, 1}
    assert min(snapshot["rooms"].values()) >= max(
        count for room, count in pod.hub.local_counts().items() if room not in snapshot["rooms"]
    )
    newest = snapshot["open_connections"]
    assert len(newest) == SNAPSHOT_CONNECTIONS
    assert newest[0] == {
        "id": f"c{SNAPSHOT_CONNECTIONS + 4}",
        "protocol": "ws",
        "rooms": (SNAPSHOT_CONNECTIONS + 4) % 3,
        "connected_at": pytest.approx(snapshot["taken_at"], abs=5),
        "user": None,
    }
    assert newest[1]["user"] == "alice"  # c103 is in one room: fake_connection gives it a user
    assert snapshot["messages_in_per_second"] == 0.0


async def test_rates_per_second_come_from_the_previous_snapshot(pod: Pod) -> None:
    first = stats_snapshot(pod)
    pod.counters.messages_in, pod.counters.messages_out = 50, 100
    second = stats_snapshot(pod, previous={**first, "taken_at": 0})
    elapsed = second["taken_at"]
    assert second["messages_in_per_second"] == round(50 / elapsed, 2)
    third = stats_snapshot(pod, previous={**second, "taken_at": 0})
    assert third["messages_out_per_second"] == 0.0  # nothing new since


async def test_without_redis_the_publisher_keeps_the_snapshot_and_an_hour_of_history(
    pod: Pod,
) -> None:
    publisher = pod.stats
    await publisher.publish()
    assert publisher.latest is not None
    publisher.history.appendleft((publisher.latest["taken_at"] - HISTORY_SECONDS - 10, 7))
    await publisher.publish()
    assert publisher.latest["pod"] == "pod-x"
    # The old point was trimmed; the pod's own publishing task may have added one of its own.
    assert len(publisher.history) >= 2
    assert {count for _, count in publisher.history} == {0}
    overview = await stats_overview(realtime_config(), health=False)
    assert overview.source == "memory"
    assert [snapshot["pod_id"] for snapshot in overview.pods] == [pod.pod_id]
    assert overview.history[pod.pod_id] == list(publisher.history)


async def test_before_any_pod_has_published_the_overview_shows_this_process(settings) -> None:
    settings.POD_NAME = "pod-idle"
    overview = await stats_overview(realtime_config(), health=False)
    assert [(pod["pod"], pod["connections"], pod["layer"]) for pod in overview.pods] == [
        ("pod-idle", 0, "memory")
    ]


def test_chart_has_one_line_per_pod_inside_the_plot() -> None:
    now = 10_000.0
    chart = chart_build({"b": [(now - 60, 3), (now, 5)], "a": [(now - 7200, 9)]}, now)
    assert [line.label for line in chart.lines] == ["b"]  # a's only point is older than an hour
    for pair in chart.lines[0].points.split():
        x, y = map(float, pair.split(","))
        assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom
    assert chart.y_ticks[-1].label == "5"
