"""Socket.IO connections through murror.asgi in this process (Channels' communicators, the
in-memory layer): events and acks, the rules, handlers, room events with /ws/ members, and the
polling transport's buffer and CORS."""

from __future__ import annotations

import json

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator

from murror.asgi import application
from realtime.pod.lifecycle import pod_serving

pytestmark = pytest.mark.usefixtures("in_process_pod")
TIMEOUT = 5


class SioSocket:
    """A Socket.IO client on the websocket transport, packet by packet."""

    def __init__(self, headers: list | None = None) -> None:
        self.communicator = WebsocketCommunicator(
            application, "/socket.io/?EIO=4&transport=websocket", headers=headers or []
        )
        self.id = ""

    async def connect(self, auth: str = "") -> dict:
        connected, _ = await self.communicator.connect(timeout=TIMEOUT)
        assert connected
        assert (await self.receive()).startswith("0{")
        await self.send("40" + auth)
        reply = await self.receive()
        if reply.startswith("44"):
            return json.loads(reply[2:])
        self.id = json.loads(reply[2:])["sid"]
        return json.loads((await self.receive())[2:])[1]  # the welcome

    async def send(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self) -> str:
        return await self.communicator.receive_from(timeout=TIMEOUT)

    async def call(self, event: str, *args: object, ack: int = 1) -> object:
        """Emit with an ack id; what the ack carries."""
        await self.send(f"42{ack}" + json.dumps([event, *args]))
        reply = await self.receive()
        assert reply.startswith(f"43{ack}["), reply
        return json.loads(reply[2 + len(str(ack)) :])[0]

    async def close(self) -> None:
        await self.communicator.disconnect()


async def connected() -> SioSocket:
    socket = SioSocket()
    await socket.connect()
    return socket


async def test_the_welcome_names_the_socket_the_pod_and_the_layer(settings) -> None:
    settings.POD_NAME = "pod-sio"
    socket = SioSocket()
    welcome = await socket.connect()
    assert welcome == {"connection_id": socket.id, "pod": "pod-sio", "layer": "memory"}
    assert len(socket.id) == 32
    await socket.close()


async def test_join_members_emit_leave_with_acks() -> None:
    socket = await connected()
    assert await socket.call("join", "lobby") == {"type": "joined", "room": "lobby"}
    assert await socket.call("join", {"room": "lobby"}, ack=2) == {
        "type": "joined",
        "room": "lobby",
    }
    assert await socket.call("members", "lobby") == {"type": "members", "room": "lobby", "count": 1}
    await socket.send('423["emit",{"room":"lobby","event":"chat","data":{"t":"hi"}}]')
    assert json.loads((await socket.receive())[2:]) == [
        "chat",
        {"t": "hi"},
        {"room": "lobby", "from": socket.id},
    ]
    assert await socket.receive() == '433[{"type":"ack"}]'
    assert await socket.call("leave", "lobby") == {"type": "left", "room": "lobby"}
    assert await socket.call("members", "lobby") == {"type": "members", "room": "lobby", "count": 0}
    await socket.close()


async def test_socketio_and_ws_members_share_a_room() -> None:
    socket = await connected()
    ws = WebsocketCommunicator(application, "/ws/")
    assert (await ws.connect(timeout=TIMEOUT))[0]
    ws_id = json.loads(await ws.receive_from(timeout=TIMEOUT))["connection_id"]
    await ws.send_to(text_data=json.dumps({"type": "join", "room": "mixed"}))
    await ws.receive_from(timeout=TIMEOUT)
    await socket.call("join", "mixed")
    emit = {"room": "mixed", "event": "e", "data": [1], "echo": False}
    assert await socket.call("emit", emit) == {"type": "ack"}
    assert json.loads(await ws.receive_from(timeout=TIMEOUT)) == {
        "type": "event",
        "room": "mixed",
        "event": "e",
        "data": [1],
        "from": socket.id,
    }
    await ws.send_to(text_data=json.dumps({"type": "emit", "room": "mixed", "event": "back"}))
    assert json.loads((await socket.receive())[2:]) == [
        "back",
        None,
        {"room": "mixed", "from": ws_id},
    ]
    await ws.disconnect()
    await socket.close()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["dance"], "unknown_type"),
        (["join", "no spaces"], "bad_room"),
        (["join", 7], "bad_message"),
        (["join", {"room": None}], "bad_message"),
        (["emit", {"room": "r", "event": "e"}], "not_in_room"),
        (["emit", {"room": "r", "event": "bad event"}], "bad_event"),
        (["emit", {"room": "r", "event": "e", "echo": "no"}], "bad_message"),
        (["emit", ["r"]], "bad_message"),
        (["members", "bad/room"], "bad_room"),
    ],
)
async def test_each_broken_rule_is_answered_in_the_ack(args: list, code: str) -> None:
    socket = await connected()
    error = await socket.call(*args)
    assert isinstance(error, dict)
    assert (error["type"], error["code"]) == ("error", code) and error["message"]
    assert await socket.call("join", "fine", ack=2) == {"type": "joined", "room": "fine"}
    await socket.close()


async def test_without_an_ack_the_error_is_the_error_event() -> None:
    socket = await connected()
    await socket.send('42["emit",{"room":"r","event":"e"}]')
    event, error = json.loads((await socket.receive())[2:])
    assert (event, error["code"]) == ("error", "not_in_room")
    await socket.close()


async def test_the_rate_limit_and_the_room_limit_are_those_of_ws(settings) -> None:
    settings.REALTIME_RATE, settings.REALTIME_BURST, settings.REALTIME_MAX_ROOMS = 0.001, 3, 1
    socket = await connected()
    assert await socket.call("join", "a") == {"type": "joined", "room": "a"}
    assert (await socket.call("join", "b", ack=2))["code"] == "too_many_rooms"
    assert (await socket.call("members", "a", ack=3))["type"] == "members"
    assert (await socket.call("members", "a", ack=4))["code"] == "rate_limited"
    await socket.close()


async def test_a_refused_token_is_a_connect_error() -> None:
    refused = SioSocket()
    assert await refused.connect('{"token":"forged"}') == {"message": "unauthorized"}
    await refused.close()


async def test_require_auth_refuses_anonymous_clients(settings) -> None:
    settings.REALTIME_REQUIRE_AUTH = True
    anonymous = SioSocket()
    assert await anonymous.connect() == {"message": "unauthorized"}
    await anonymous.close()


async def test_staff_close_sends_disconnect_and_drain_closes_the_transport() -> None:
    staff, draining = await connected(), await connected()
    pod = await pod_serving()
    await pod.connections[staff.id].close(4100)
    assert await staff.receive() == "41"
    assert (await staff.communicator.receive_output(timeout=TIMEOUT))["type"] == "websocket.close"
    await pod.connections[draining.id].close(1012)
    closed = await draining.communicator.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 1012, "reason": ""}


async def test_a_closed_socket_leaves_its_rooms_and_the_counters_know_its_protocol() -> None:
    socket = await connected()
    pod = await pod_serving()
    await socket.call("join", "counted")
    assert pod.counters.connections_by_protocol["socketio"] == 1
    await socket.close()
    assert pod.counters.connections_by_protocol["socketio"] == 0
    assert "counted" not in pod.hub.rooms
    assert pod.counters.messages_in_by_protocol["socketio"] == 1


async def polling(method: str, query: str, body: bytes = b"", headers=None) -> dict:
    communicator = HttpCommunicator(
        application, method, f"/socket.io/?EIO=4&transport=polling{query}", body, headers or []
    )
    return await communicator.get_response(timeout=TIMEOUT)


async def test_polling_buffers_what_waits_and_hands_it_over_in_one_payload() -> None:
    handshake = await polling("GET", "")
    sid = json.loads(handshake["body"].decode()[1:])["sid"]
    assert (await polling("POST", f"&sid={sid}", b'40\x1e421["join","p"]'))["body"] == b"ok"
    packets = (await polling("GET", f"&sid={sid}"))["body"].decode().split("\x1e")
    assert packets[0].startswith("40{") and packets[1].startswith('42["welcome"')
    assert packets[2] == '431[{"type":"joined","room":"p"}]'
    assert (await polling("GET", "&sid=unknown"))["status"] == 400
    assert (await polling("POST", f"&sid={sid}", b"1"))["body"] == b"ok"
    assert json.loads((await polling("GET", f"&sid={sid}"))["body"]) == {
        "code": 1,
        "message": "Session ID unknown",
    }


async def test_a_polling_client_closed_by_the_server_gets_it_with_its_next_poll() -> None:
    """The session lingers: the next poll carries the DISCONNECT, the one after it the close
    packet, not "Session ID unknown" (the client would take that for a transport error)."""
    handshake = await polling("GET", "")
    sid = json.loads(handshake["body"].decode()[1:])["sid"]
    await polling("POST", f"&sid={sid}", b"40")
    connect, _welcome = (await polling("GET", f"&sid={sid}"))["body"].decode().split("\x1e")
    pod = await pod_serving()
    await pod.connections[json.loads(connect[2:])["sid"]].close(4100)  # staff
    assert (await polling("POST", f"&sid={sid}", b"3"))["status"] == 400
    assert (await polling("GET", f"&sid={sid}"))["body"] == b"41"
    assert (await polling("GET", f"&sid={sid}"))["body"] == b"1"
    assert (await polling("GET", f"&sid={sid}"))["status"] == 400


async def test_polling_answers_allowed_origins_with_cors_and_refuses_others(settings) -> None:
    settings.REALTIME_ALLOWED_ORIGINS = ["https://app.example.com"]
    allowed = [(b"origin", b"https://app.example.com")]
    response = await polling("GET", "", headers=allowed)
    headers = dict(response["headers"])
    assert response["status"] == 200
    assert headers[b"access-control-allow-origin"] == b"https://app.example.com"
    assert headers[b"access-control-allow-credentials"] == b"true"
    preflight = await polling("OPTIONS", "", headers=allowed)
    assert preflight["status"] == 204
    assert b"POST" in dict(preflight["headers"])[b"access-control-allow-methods"]
    foreign = await polling("GET", "", headers=[(b"origin", b"https://evil.example.net")])
    assert foreign["status"] == 403
    assert b"access-control-allow-origin" not in dict(foreign["headers"])
    assert b"access-control-allow-origin" not in dict((await polling("GET", ""))["headers"])
