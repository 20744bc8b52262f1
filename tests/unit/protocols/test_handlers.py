"""realtime.protocols.handlers: the decorator's rules, and handlers answering /ws/ and Socket.IO
in this process (the handlers of tests/support/handlers_example.py)."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured

import realtime
import tests.support.handlers_example  # noqa: F401  (registers whoami, shout, broken)
from murror.asgi import application
from realtime.protocols.handlers import handler_names, handlers_import
from tests.unit.protocols.socketio.test_connection import SioSocket

TIMEOUT = 5


@pytest.mark.parametrize("name", ["join", "emit", "welcome", "error", "reply", "bad name", "", 7])
def test_reserved_and_malformed_names_are_refused(name: object) -> None:
    with pytest.raises(ImproperlyConfigured):
        realtime.on(name)  # type: ignore[arg-type]


def test_a_name_has_one_handler() -> None:
    with pytest.raises(ImproperlyConfigured, match="two handlers"):
        realtime.on("whoami")(lambda connection, data: None)
    assert {"whoami", "shout", "broken"} <= handler_names()


def test_a_module_that_does_not_import_stops_start_up_with_its_name() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"no\.such\.module"):
        handlers_import(["no.such.module"])


@pytest.mark.usefixtures("in_process_pod")
async def test_ws_clients_call_handlers_and_get_replies() -> None:
    client = WebsocketCommunicator(application, "/ws/")
    assert (await client.connect(timeout=TIMEOUT))[0]
    welcome = json.loads(await client.receive_from(timeout=TIMEOUT))

    async def request(payload: dict) -> dict:
        await client.send_to(text_data=json.dumps(payload))
        return json.loads(await client.receive_from(timeout=TIMEOUT))

    await request({"type": "join", "room": "h"})
    assert await request({"type": "whoami", "data": {"x": 1}, "id": 5}) == {
        "type": "reply",
        "data": {"id": welcome["connection_id"], "rooms": ["h"], "echo": {"x": 1}},
        "id": 5,
    }
    shouted = await request({"type": "shout", "data": {"room": "h", "text": "hey"}, "id": 6})
    assert shouted["data"] == {"text": "HEY"}  # the handler's room event came first
    assert await client.receive_from(timeout=TIMEOUT) == json.dumps(
        {"type": "reply", "data": {"shouted": True}, "id": 6}, separators=(",", ":")
    )
    failed = await request({"type": "broken", "id": 7})
    assert (failed["code"], failed["id"]) == ("internal_error", 7)
    assert await request({"type": "ping"}) == {"type": "pong"}
    await client.disconnect()


@pytest.mark.usefixtures("in_process_pod")
async def test_socketio_clients_get_the_value_in_their_ack() -> None:
    socket = SioSocket()
    await socket.connect()
    assert await socket.call("whoami", None) == {"id": socket.id, "rooms": [], "echo": None}
    assert (await socket.call("broken", ack=2))["code"] == "internal_error"
    await socket.close()
