"""The consumer at /ws/ through Channels' WebsocketCommunicator, on the in-memory layer."""

from __future__ import annotations

import json

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from murror.asgi import application
from realtime import room_emit
from realtime.pod.lifecycle import pod_serving
from realtime.redis.keys import room_group

TIMEOUT = 5


pytestmark = pytest.mark.usefixtures("in_process_pod")


class Client:
    def __init__(self) -> None:
        self.communicator = WebsocketCommunicator(application, "/ws/")
        self.welcome: dict = {}

    async def connect(self) -> Client:
        connected, _ = await self.communicator.connect(timeout=TIMEOUT)
        assert connected
        self.welcome = await self.receive()
        return self

    async def send(self, payload: dict | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await self.communicator.send_to(text_data=text)

    async def receive(self) -> dict:
        return json.loads(await self.communicator.receive_from(timeout=TIMEOUT))

    async def request(self, payload: dict | str) -> dict:
        await self.send(payload)
        return await self.receive()

    async def join(self, room: str) -> None:
        assert await self.request({"type": "join", "room": room}) == {
            "type": "joined",
            "room": room,
        }

    async def assert_nothing_received(self) -> None:
        """Nothing came before the reply to a ping sent now: call it once what could have
        arrived was delivered (the pod delivers an emit locally before it replies)."""
        assert await self.answers_ping()

    async def answers_ping(self) -> bool:
        return await self.request({"type": "ping", "id": "alive"}) == {
            "type": "pong",
            "id": "alive",
        }

    async def close(self) -> None:
        await self.communicator.disconnect()


async def connected() -> Client:
    return await Client().connect()


async def test_welcome(settings) -> None:
    settings.POD_NAME = "pod-under-test"
    client = await connected()
    assert client.welcome == {
        "type": "welcome",
        "connection_id": client.welcome["connection_id"],
        "pod": "pod-under-test",
        "layer": "memory",
    }
    assert len(client.welcome["connection_id"]) == 32
    await client.close()


async def test_replies_echo_the_id() -> None:
    client = await connected()
    assert await client.request({"type": "ping", "id": 1}) == {"type": "pong", "id": 1}
    assert await client.request({"type": "join", "room": "r", "id": "j"}) == {
        "type": "joined",
        "room": "r",
        "id": "j",
    }
    assert await client.request({"type": "members", "room": "r", "id": 2.5}) == {
        "type": "members",
        "room": "r",
        "count": 1,
        "id": 2.5,
    }
    assert await client.request({"type": "leave", "room": "r", "id": 3}) == {
        "type": "left",
        "room": "r",
        "id": 3,
    }
    assert await client.request({"type": "members", "room": "r"}) == {
        "type": "members",
        "room": "r",
        "count": 0,
    }
    await client.close()


async def test_emit_reaches_members_and_sender_and_acks_only_with_an_id() -> None:
    alice, bob, carol = await connected(), await connected(), await connected()
    await alice.join("room")
    await bob.join("room")
    await carol.join("elsewhere")
    await alice.send(
        {"type": "emit", "room": "room", "event": "chat", "data": {"t": "hi"}, "id": 7}
    )
    expected = {
        "type": "event",
        "room": "room",
        "event": "chat",
        "data": {"t": "hi"},
        "from": alice.welcome["connection_id"],
    }
    assert await alice.receive() == expected
    assert await alice.receive() == {"type": "ack", "id": 7}
    assert await bob.receive() == expected
    await carol.assert_nothing_received()
    await alice.send({"type": "emit", "room": "room", "event": "chat", "data": 2})
    assert (await alice.receive())["data"] == 2
    await alice.assert_nothing_received()
    for client in (alice, bob, carol):
        await client.close()


async def test_echo_false_skips_the_sender() -> None:
    alice, bob = await connected(), await connected()
    await alice.join("r")
    await bob.join("r")
    await alice.send({"type": "emit", "room": "r", "event": "e", "data": 1, "echo": False})
    assert (await bob.receive())["data"] == 1
    await alice.assert_nothing_received()
    await alice.close()
    await bob.close()


async def test_leave_stops_delivery_and_closing_stops_counting() -> None:
    alice, bob = await connected(), await connected()
    await alice.join("r")
    await bob.join("r")
    await bob.join("r")  # joining twice counts once
    assert (await alice.request({"type": "members", "room": "r"}))["count"] == 2
    assert await bob.request({"type": "leave", "room": "r"}) == {"type": "left", "room": "r"}
    ack = await alice.request({"type": "emit", "room": "r", "event": "e", "echo": False, "id": 1})
    assert ack == {"type": "ack", "id": 1}
    await bob.assert_nothing_received()
    await bob.join("r")
    await bob.close()
    assert (await alice.request({"type": "members", "room": "r"}))["count"] == 1
    await alice.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[]", "bad_json"),
        ('{"type": "dance", "id": 1}', "unknown_type"),
        ('{"room": "r", "id": 1}', "bad_message"),
        ('{"type": "join", "room": "no spaces", "id": 1}', "bad_room"),
        ('{"type": "emit", "room": "r", "event": "", "id": 1}', "bad_event"),
        ('{"type": "emit", "room": "r", "event": "e", "id": 1}', "not_in_room"),
    ],
)
async def test_each_error_code_keeps_the_connection(frame: str, code: str) -> None:
    client = await connected()
    error = await client.request(frame)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert error.get("id") == (1 if '"id": 1' in frame else None)
    assert await client.answers_ping()
    await client.close()


async def test_binary_frame_is_bad_json() -> None:
    client = await connected()
    await client.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await client.receive())["code"] == "bad_json"
    assert await client.answers_ping()
    await client.close()


async def test_too_large(settings) -> None:
    settings.REALTIME_MAX_FRAME_BYTES = 100
    client = await connected()
    error = await client.request({"type": "ping", "id": 1, "pad": "x" * 100})
    assert error["code"] == "too_large"
    assert "id" not in error
    assert await client.answers_ping()
    await client.close()


async def test_too_many_rooms_counts_current_rooms(settings) -> None:
    settings.REALTIME_MAX_ROOMS = 2
    client = await connected()
    await client.join("a")
    await client.join("b")
    await client.join("b")
    error = await client.request({"type": "join", "room": "c", "id": "c"})
    assert (error["code"], error["id"]) == ("too_many_rooms", "c")
    await client.request({"type": "leave", "room": "a"})
    await client.join("c")
    await client.close()


async def test_rate_limited(settings) -> None:
    settings.REALTIME_RATE = 0.001
    settings.REALTIME_BURST = 3
    client = await connected()
    for number in range(3):
        assert await client.request({"type": "ping", "id": number}) == {
            "type": "pong",
            "id": number,
        }
    error = await client.request({"type": "ping", "id": "over"})
    assert (error["code"], error["id"]) == ("rate_limited", "over")
    assert (await client.request("garbage"))["code"] == "rate_limited"
    await client.close()


async def test_internal_error_costs_one_reply_not_the_connection(monkeypatch) -> None:
    client = await connected()
    await client.join("r")
    pod = await pod_serving()

    async def broken_publish(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pod.hub, "publish", broken_publish)
    error = await client.request({"type": "emit", "room": "r", "event": "e"})
    assert error["code"] == "internal_error"
    assert await client.answers_ping()
    await client.close()


async def test_group_send_from_plain_channels_code_reaches_the_room() -> None:
    member = await connected()
    await member.join("news")
    message = {"type": "room.event", "room": "news", "event": "headline", "data": [1]}
    await get_channel_layer().group_send(room_group("news"), message)
    assert await member.receive() == {
        "type": "event",
        "room": "news",
        "event": "headline",
        "data": [1],
        "from": None,
    }
    await member.close()


async def test_room_emit_function_reaches_the_room() -> None:
    member = await connected()
    await member.join("news")
    await room_emit("news", "flash", {"n": 1})
    assert await member.receive() == {
        "type": "event",
        "room": "news",
        "event": "flash",
        "data": {"n": 1},
        "from": None,
    }
    await member.close()


async def test_stats_count_connections_messages_and_errors() -> None:
    alice, bob = await connected(), await connected()
    pod = await pod_serving()
    counters = pod.counters
    await alice.join("r")
    await bob.join("r")
    await alice.request({"type": "emit", "room": "r", "event": "e"})
    await bob.receive()
    await alice.request("not json")
    assert (counters.connections, counters.peak_connections, counters.connects) == (2, 2, 2)
    assert counters.joins == 2
    assert counters.messages_in == 4
    # 2 welcomes, 2 joined, 1 error; and 2 events delivered
    assert (counters.messages_out, pod.hub.counters.delivered) == (5, 2)
    assert counters.errors["bad_json"] == 1
    await alice.close()
    await bob.close()
    assert (counters.connections, counters.disconnects) == (0, 2)
