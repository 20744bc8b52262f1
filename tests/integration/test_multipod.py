"""Three daphne pods on one redis-server, driven by real WebSocket clients."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.redis.keys import room_group
from realtime.redis.layer import redis_layer_new
from realtime.redis.url import redis_target_parse
from tests.support.servers import (
    DaphnePod,
    RedisServer,
    async_wait_for,
    manage_py,
    pods_serving,
)
from tests.support.ws_client import WsClient


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("multipod-redis"), password="multi pod/pw").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pods(tmp_path_factory, redis_server) -> Iterator[list[DaphnePod]]:
    workdir = tmp_path_factory.mktemp("multipod")
    env = {"REDIS_URL": redis_server.url()}
    with pods_serving(workdir, env, ["pod-1", "pod-2", "pod-3"]) as trio:
        yield trio


async def clients_on(pods: list[DaphnePod], room: str | None = None) -> list[WsClient]:
    clients = [await WsClient.connect(pod.ws_url) for pod in pods]
    for client, pod in zip(clients, pods, strict=True):
        assert client.welcome["pod"] == pod.name
        assert client.welcome["layer"] == "redis"
        if room:
            await client.join(room)
    return clients


async def close_all(clients: list[WsClient]) -> None:
    for client in clients:
        await client.close()


async def test_emit_reaches_members_on_every_pod_and_nobody_else(pods) -> None:
    members = await clients_on(pods, "everywhere")
    outsiders = await clients_on(pods, "somewhere-else")
    sender = members[0]
    await sender.emit("everywhere", "chat", {"text": "hello"}, id="e1")
    expected = {
        "type": "event",
        "room": "everywhere",
        "event": "chat",
        "data": {"text": "hello"},
        "from": sender.connection_id,
    }
    assert await sender.receive() == expected
    assert await sender.receive() == {"type": "ack", "id": "e1"}
    for member in members[1:]:
        assert await member.receive() == expected
    # Exactly once each, and nothing for the other room: the next thing everyone gets is a
    # marker sent afterwards from pod-2, which every pod delivers after the event (Redis hands a
    # pod its messages in the order it took them; a pod delivers in the order it got them).
    await members[1].emit("everywhere", "marker", id="m1")
    await outsiders[1].emit("somewhere-else", "marker", id="m2")
    for client in members + outsiders:
        assert (await client.receive())["event"] == "marker"
    assert await members[1].receive() == {"type": "ack", "id": "m1"}
    assert await outsiders[1].receive() == {"type": "ack", "id": "m2"}
    await close_all(members + outsiders)


async def test_echo_false_and_leave_across_pods(pods) -> None:
    a, b, c = await clients_on(pods, "echo-room")
    await a.emit("echo-room", "e", 1, echo=False)
    assert (await b.receive())["data"] == 1
    assert (await c.receive())["data"] == 1
    # a's own copy would have come first, locally: the next thing it gets is b's marker.
    await b.emit("echo-room", "marker", echo=False)
    assert (await a.receive())["event"] == "marker"
    assert (await c.receive())["event"] == "marker"
    assert await b.request({"type": "leave", "room": "echo-room"}) == {
        "type": "left",
        "room": "echo-room",
    }
    await b.join("b-only")
    await a.join("b-only")
    await a.emit("echo-room", "e", 2)
    assert (await a.receive())["data"] == 2
    assert (await c.receive())["data"] == 2
    # Sent after, by the same pod: b would get the echo-room event before this one.
    await a.emit("b-only", "marker", echo=False)
    assert (await b.receive())["event"] == "marker"
    await close_all([a, b, c])


async def test_members_count_over_all_pods_and_a_closing_client(pods) -> None:
    clients = await clients_on([*pods, pods[0]], "counted")
    for client in clients:
        assert await client.members("counted") == 4
    await clients[2].close()

    async def closed_one_gone() -> bool:
        return await clients[0].members("counted") == 3

    # Documented: a closed connection stops counting on every pod within 2 s.
    await async_wait_for(closed_one_gone, 2, "the closed connection to stop counting")

    async def gone_on_the_other_pod_too() -> bool:
        return await clients[1].members("counted") == 3

    # That pod's count of the others may be up to REALTIME_MEMBERS_CACHE_SECONDS old.
    await async_wait_for(gone_on_the_other_pod_too, 2, "the other pod's count")
    await close_all([clients[0], clients[1], clients[3]])


def emit_command(redis_url: str | None, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {"REDIS_URL": redis_url} if redis_url else {}
    return manage_py(Path("/nonexistent"), env, "emit", *arguments, timeout=60)


async def test_emit_command_reaches_members_on_every_pod(pods, redis_server) -> None:
    members = await clients_on(pods, "announcements")
    result = await asyncio.to_thread(
        emit_command, redis_server.url(), "announcements", "notice", '{"level": 1}'
    )
    assert result.returncode == 0, result.stderr
    for member in members:
        assert await member.receive() == {
            "type": "event",
            "room": "announcements",
            "event": "notice",
            "data": {"level": 1},
            "from": None,
        }
    await close_all(members)


def test_emit_command_needs_redis_url() -> None:
    result = emit_command(None, "room", "event")
    assert result.returncode == 2
    assert "Error: REDIS_URL is required for Redis connection" in result.stderr


def test_emit_command_rejects_bad_names_and_json(redis_server) -> None:
    bad_room = emit_command(redis_server.url(), "no spaces", "event")
    assert (bad_room.returncode, "room names" in bad_room.stderr) == (2, True)
    bad_json = emit_command(redis_server.url(), "room", "event", "{oops")
    assert (bad_json.returncode, "not valid JSON" in bad_json.stderr) == (2, True)


async def test_group_send_from_plain_channels_code_reaches_every_pod(pods, redis_server) -> None:
    members = await clients_on(pods, "plain")
    layer = redis_layer_new(redis_target_parse(redis_server.url()))
    message = {"type": "room.event", "room": "plain", "event": "from-worker", "data": 5}
    await layer.group_send(room_group("plain"), message)
    for member in members:
        assert (await member.receive())["data"] == 5
    await layer.flush()
    await close_all(members)


@pytest.mark.slow
async def test_members_of_a_killed_pod_stop_counting_within_60_seconds(
    tmp_path, pods, redis_server
) -> None:
    doomed = DaphnePod(tmp_path, {"REDIS_URL": redis_server.url()}, "doomed").start()
    doomed.wait_listening()
    observer = (await clients_on([pods[0]], "mortal"))[0]
    victims = [await WsClient.connect(doomed.ws_url) for _ in range(3)]
    for victim in victims:
        await victim.join("mortal")
    assert await observer.members("mortal") == 4
    doomed.kill()  # SIGKILL: no cleanup at all

    async def killed_pod_gone() -> bool:
        return await observer.members("mortal") == 1

    await async_wait_for(killed_pod_gone, 60, "the killed pod's members to stop counting", 0.5)
    await observer.close()
