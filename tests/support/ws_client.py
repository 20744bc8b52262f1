"""A real WebSocket client (the websockets library) speaking the protocol, for multi-pod tests."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import websockets

TIMEOUT = 5


class WsClient:
    def __init__(self, connection: websockets.ClientConnection, welcome: dict[str, Any]) -> None:
        self.connection = connection
        self.welcome = welcome
        self.connection_id: str = welcome["connection_id"]

    @classmethod
    async def connect(cls, url: str, headers: dict[str, str] | None = None) -> WsClient:
        connection = await websockets.connect(url, open_timeout=TIMEOUT, additional_headers=headers)
        welcome = json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
        assert welcome["type"] == "welcome"
        return cls(connection, welcome)

    async def send(self, payload: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(payload))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.send(payload)
        return await self.receive()

    async def join(self, room: str) -> None:
        reply = await self.request({"type": "join", "room": room})
        assert reply == {"type": "joined", "room": room}, reply

    async def members(self, room: str) -> int:
        """The room's count over all pods; room events that arrive first are passed over
        (a test may still have some in flight)."""
        await self.send({"type": "members", "room": room, "id": "members"})
        while (reply := await self.receive())["type"] == "event":
            pass
        assert reply["id"] == "members", reply
        return reply["count"]

    async def emit(self, room: str, event: str, data: Any = None, **extra: Any) -> None:
        await self.send({"type": "emit", "room": room, "event": event, "data": data, **extra})

    async def close(self) -> None:
        await self.connection.close()


def stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads a byte."""
    stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    stalled.sendall(
        (
            "GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101 Switching Protocols" in stalled.recv(1024)
    # A client frame must be masked: join the room, then go silent for good.
    join = b'{"type":"join","room":"busy"}'
    mask = os.urandom(4)
    stalled.sendall(
        bytes([0x81, 0x80 | len(join)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(join))
    )
    return stalled
