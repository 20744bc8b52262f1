"""realtime.ops.disconnect: a connection.close through the channel layer closes one connection."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from murror.asgi import application
from realtime.ops.disconnect import connection_close_handle, connection_close_send
from realtime.pod.lifecycle import pod_serving
from realtime.protocols.closecodes import CloseCode

TIMEOUT = 5


pytestmark = pytest.mark.usefixtures("in_process_pod")


async def connected() -> tuple[WebsocketCommunicator, str]:
    communicator = WebsocketCommunicator(application, "/ws/")
    assert (await communicator.connect(timeout=TIMEOUT))[0]
    welcome = json.loads(await communicator.receive_from(timeout=TIMEOUT))
    return communicator, welcome["connection_id"]


async def test_close_through_the_pod_channel_closes_that_connection_only() -> None:
    (doomed, doomed_id), (other, _) = await connected(), await connected()
    pod = await pod_serving()
    await connection_close_send(doomed_id, [pod.hub.channel])
    assert await doomed.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": CloseCode.CLOSED_BY_STAFF,
        "reason": "",
    }
    await other.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await other.receive_from(timeout=TIMEOUT)) == {"type": "pong"}
    await doomed.disconnect()
    await other.disconnect()


async def test_an_id_not_on_this_pod_is_ignored() -> None:
    client, _ = await connected()
    message = {"type": "connection.close", "connection_id": "nope"}
    assert not await connection_close_handle((await pod_serving()).connections, message)
    await client.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await client.receive_from(timeout=TIMEOUT)) == {"type": "pong"}
    await client.disconnect()
