"""Real Socket.IO clients against two daphne pods and one Redis: the npm socket.io-client 4.8 run
by node (as the Node service's apps use it) and python-socketio's AsyncClient, beside /ws/
clients in the same rooms, both ways across pods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import jwt
import pytest
import socketio

from realtime.ops.disconnect import connection_close_send
from realtime.ops.stats_read import snapshots_read
from realtime.redis.clients import redis_client
from realtime.redis.layer import redis_layer_new
from realtime.redis.url import redis_target_parse
from tests.support.servers import (
    PROJECT_ROOT,
    DaphnePod,
    RedisServer,
    async_wait_for,
    manage_py,
    pods_serving,
)
from tests.support.sio_node import NodeSioClient
from tests.support.ws_client import WsClient

JWT_SECRET = "the Node API's HS256 secret for the pods, at least 32 bytes long"
POD_ENV = {
    "REALTIME_HANDLERS": "tests.support.handlers_example",
    "REALTIME_STATS_SECONDS": "1",
    "REALTIME_ROOM_AUTHORIZER": "tests.support.authorizers_example.user_rooms_are_their_users",
    "REALTIME_JWT_KEY": JWT_SECRET,
}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("sio-redis"), password="sio pw").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pods(tmp_path_factory, redis_server) -> Iterator[list[DaphnePod]]:
    env = {"REDIS_URL": redis_server.url(), **POD_ENV}
    with pods_serving(tmp_path_factory.mktemp("sio-pods"), env, ["pod-1", "pod-2"]) as pair:
        yield pair


@pytest.fixture
async def node_clients() -> AsyncIterator[list[NodeSioClient]]:
    """Start node socket.io-clients with `started.append(await NodeSioClient.start())`."""
    started: list[NodeSioClient] = []
    yield started
    for client in started:
        await client.close()


def sio_url(pod: DaphnePod) -> str:
    return f"http://127.0.0.1:{pod.port}"


async def node_client(clients: list[NodeSioClient], pod: DaphnePod, **options) -> tuple:
    client = await NodeSioClient.start()
    clients.append(client)
    report = await client.connect(sio_url(pod), **options)
    welcome = (await client.event("welcome"))[0]
    return client, report, welcome


async def test_a_default_client_starts_on_polling_upgrades_and_is_welcomed(
    pods, node_clients
) -> None:
    client, report, welcome = await node_client(node_clients, pods[0])
    assert (await client.expect("open"))["transport"] == "polling"
    assert (await client.expect("upgrade"))["transport"] == "websocket"
    assert welcome == {"connection_id": report["id"], "pod": "pod-1", "layer": "redis"}
    assert await client.emit("join", "upgraded") == [{"type": "joined", "room": "upgraded"}]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_a_websocket_only_and_a_polling_only_client_share_a_room(
    pods, node_clients, transports
) -> None:
    room = f"only-{transports[0]}"
    first, report, _ = await node_client(node_clients, pods[0], transports=transports)
    second, other, _ = await node_client(node_clients, pods[1], transports=transports)
    assert report["transport"] == other["transport"] == transports[0]
    for client in (first, second):
        assert await client.emit("join", {"room": room}) == [{"type": "joined", "room": room}]
    ack = await first.emit("emit", {"room": room, "event": "chat", "data": {"t": "hi"}})
    assert ack == [{"type": "ack"}]
    meta = {"room": room, "from": report["id"]}
    assert await second.event("chat") == [{"t": "hi"}, meta]
    assert await first.event("chat") == [{"t": "hi"}, meta]  # echo, as on /ws/
    assert await second.emit("members", room) == [{"type": "members", "room": room, "count": 2}]


async def test_socketio_and_ws_clients_share_a_room_across_pods_both_ways(
    pods, node_clients
) -> None:
    sio, report, _ = await node_client(node_clients, pods[0], transports=["websocket"])
    ws = await WsClient.connect(pods[1].ws_url)
    await sio.emit("join", "mixed")
    await ws.join("mixed")
    assert await ws.members("mixed") == 2
    await sio.emit("emit", {"room": "mixed", "event": "hello", "data": [1], "echo": False})
    assert await ws.receive() == {
        "type": "event",
        "room": "mixed",
        "event": "hello",
        "data": [1],
        "from": report["id"],
    }
    await ws.emit("mixed", "back", {"n": 2})
    assert await sio.event("back") == [{"n": 2}, {"room": "mixed", "from": ws.connection_id}]
    await ws.close()


async def test_errors_come_in_the_ack_or_as_the_error_event(pods, node_clients) -> None:
    sio, _, _ = await node_client(node_clients, pods[0], transports=["websocket"])
    [unknown] = await sio.emit("dance", {})
    assert (unknown["type"], unknown["code"]) == ("error", "unknown_type")
    [outside] = await sio.emit("emit", {"room": "not-joined", "event": "e"})
    assert outside["code"] == "not_in_room"
    [bad] = await sio.emit("join", "no spaces")
    assert bad["code"] == "bad_room"
    await sio.emit_no_ack("emit", {"room": "not-joined", "event": "e"})
    [error] = await sio.event("error")
    assert error["code"] == "not_in_room"


def forbidden(action: str, room: str) -> dict:
    message = f"not allowed to {action} in room {room!r}"
    return {"type": "error", "code": "forbidden", "message": message}


async def test_room_access_with_a_jwt_in_the_connect_auth(pods, node_clients) -> None:
    claims = {"sub": "42", "exp": int(time.time()) + 60, "rooms": ["user.42", "chat.*"]}
    token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    sio, _, welcome = await node_client(node_clients, pods[0], auth={"token": token})
    assert welcome["user"] == "42"
    assert await sio.emit("join", "user.42") == [{"type": "joined", "room": "user.42"}]
    assert await sio.emit("join", "chat.7") == [{"type": "joined", "room": "chat.7"}]
    assert await sio.emit("join", "lobby") == [forbidden("join", "lobby")]  # not granted
    assert await sio.emit("members", "user.7") == [forbidden("members", "user.7")]
    await sio.emit_no_ack("join", "order.1")
    assert await sio.event("error") == [forbidden("join", "order.1")]

    # The authorizer: anonymous clients stay out of user rooms, nobody emits to staff rooms.
    anonymous, _, _ = await node_client(node_clients, pods[1], transports=["websocket"])
    assert await anonymous.emit("join", "user.42") == [forbidden("join", "user.42")]
    assert await anonymous.emit("join", "staff.news") == [{"type": "joined", "room": "staff.news"}]
    emit = {"room": "staff.news", "event": "e", "data": 1}
    assert await anonymous.emit("emit", emit) == [forbidden("emit", "staff.news")]


@pytest.mark.parametrize(
    ("claims", "key"),
    [
        ({"sub": "42", "exp": int(time.time()) - 5}, JWT_SECRET),  # expired
        ({"sub": "42"}, JWT_SECRET),  # no exp
        ({"sub": "42", "exp": int(time.time()) + 60}, JWT_SECRET[::-1]),  # forged
    ],
    ids=["expired", "no-exp", "forged"],
)
async def test_a_refused_jwt_is_a_connect_error(pods, node_clients, claims, key) -> None:
    client = await NodeSioClient.start()
    node_clients.append(client)
    token = jwt.encode(claims, key, algorithm="HS256")
    assert await client.connect_refused(sio_url(pods[0]), auth={"token": token}) == "unauthorized"


async def test_server_side_handlers_answer_both_protocols(pods, node_clients) -> None:
    sio, report, _ = await node_client(node_clients, pods[0], transports=["websocket"])
    ws = await WsClient.connect(pods[1].ws_url)
    await sio.emit("join", "loud")
    await ws.join("loud")
    [mine] = await sio.emit("whoami", "me")
    assert mine == {"id": report["id"], "rooms": ["loud"], "echo": "me"}
    reply = await ws.request({"type": "whoami", "data": [1], "id": "w"})
    assert reply == {
        "type": "reply",
        "data": {"id": ws.connection_id, "rooms": ["loud"], "echo": [1]},
        "id": "w",
    }
    assert await sio.emit("shout", {"room": "loud", "text": "hi"}) == [{"shouted": True}]
    assert await sio.event("shouted") == [{"text": "HI"}, {"room": "loud", "from": None}]
    assert (await ws.receive())["data"] == {"text": "HI"}
    [failed] = await sio.emit("broken")
    assert failed["code"] == "internal_error"
    failed_ws = await ws.request({"type": "broken", "id": 9})
    assert (failed_ws["code"], failed_ws["id"]) == ("internal_error", 9)
    assert await ws.request({"type": "ping"}) == {"type": "pong"}
    await ws.close()


async def test_manage_py_emit_reaches_socketio_members(pods, node_clients, redis_server) -> None:
    sio, _, _ = await node_client(node_clients, pods[1], transports=["websocket"])
    await sio.emit("join", "announcements")
    env = {"REDIS_URL": redis_server.url()}
    command = ("emit", "announcements", "notice", '{"at": 22}')
    result = await asyncio.to_thread(manage_py, PROJECT_ROOT / "nonexistent", env, *command)
    assert result.returncode == 0, result.stderr
    assert await sio.event("notice") == [{"at": 22}, {"room": "announcements", "from": None}]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_a_client_that_goes_stops_counting_within_2_seconds(
    pods, node_clients, transports
) -> None:
    room = f"leaving-{transports[0]}"
    sio, _, _ = await node_client(node_clients, pods[0], transports=transports)
    ws = await WsClient.connect(pods[1].ws_url)
    await sio.emit("join", room)
    await ws.join(room)
    assert await ws.members(room) == 2
    assert await sio.disconnect() == "io client disconnect"

    async def left() -> bool:
        return await ws.members(room) == 1

    await async_wait_for(left, 2, "the Socket.IO client to stop counting")
    await ws.close()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_staff_disconnect_keeps_the_client_away(
    pods, node_clients, redis_server, transports
) -> None:
    sio, report, _ = await node_client(node_clients, pods[0], transports=transports)
    target = redis_target_parse(redis_server.url())
    reader = redis_client(target, 2)

    async def owner_channel() -> str | None:
        snapshots, _ = await snapshots_read(reader)
        for snapshot in snapshots:
            if report["id"] in [c["id"] for c in snapshot["open_connections"]]:
                assert {c["protocol"] for c in snapshot["open_connections"]} >= {"socketio"}
                return snapshot["channel"]
        return None

    await async_wait_for(owner_channel, 10, "the stats snapshot listing the client")
    channel = await owner_channel()
    layer = redis_layer_new(target)
    assert channel
    await connection_close_send(report["id"], [channel], layer)  # the admin's button
    assert (await sio.expect("disconnect"))["reason"] == "io server disconnect"
    await reader.aclose()
    await layer.flush()


async def test_python_socketio_is_a_second_independent_client(pods) -> None:
    client = socketio.AsyncClient(reconnection=False)
    welcomed: asyncio.Queue = asyncio.Queue()
    chats: asyncio.Queue = asyncio.Queue()
    client.on("welcome", welcomed.put)

    @client.on("chat")
    async def on_chat(data, meta) -> None:
        await chats.put((data, meta))

    await client.connect(sio_url(pods[1]), wait_timeout=10)
    try:
        welcome = await asyncio.wait_for(welcomed.get(), 10)
        assert welcome["connection_id"] == client.get_sid() and welcome["pod"] == "pod-2"
        assert await client.call("join", "py", timeout=10) == {"type": "joined", "room": "py"}
        emit = {"room": "py", "event": "chat", "data": "from python"}
        assert await client.call("emit", emit, timeout=10) == {"type": "ack"}
        data, meta = await asyncio.wait_for(chats.get(), 10)
        assert (data, meta) == ("from python", {"room": "py", "from": client.get_sid()})
    finally:
        await client.disconnect()


async def test_drain_closes_the_transport_so_clients_reconnect_elsewhere(
    tmp_path, redis_server, node_clients
) -> None:
    env = {"REDIS_URL": redis_server.url()}
    with pods_serving(tmp_path, env, ["draining"]) as (pod,):
        pod.wait_for_log("On SIGTERM this pod will drain")
        for transports in (["websocket"], ["polling"]):
            await node_client(node_clients, pod, transports=transports)
        assert pod.process
        pod.process.terminate()
        for client in node_clients:
            assert (await client.expect("disconnect"))["reason"] == "transport close"
        assert await asyncio.to_thread(pod.wait_exit, 15) == 0
