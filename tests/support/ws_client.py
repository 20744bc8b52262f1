"""A real WebSocket client (the websockets library) speaking the protocol, for multi-pod tests."""

from __future__ import annotations

import asyncio
import json
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
