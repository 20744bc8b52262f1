"""Server-side handlers the tests load with REALTIME_HANDLERS=tests.support.handlers_example:
the port of a NestJS gateway's @SubscribeMessage handlers (docs/socketio.md)."""

from __future__ import annotations

from typing import Any

import realtime


@realtime.on("whoami")
def whoami(connection: Any, data: Any) -> dict[str, Any]:
    """A plain function: runs in Django's thread for sync code."""
    return {"id": connection.connection_id, "rooms": sorted(connection.rooms), "echo": data}


@realtime.on("shout")
async def shout(connection: Any, data: Any) -> dict[str, Any]:
    """Emits to a room the connection is in, as the Node gateway's `server.to(room).emit`."""
    await realtime.room_emit(data["room"], "shouted", {"text": data["text"].upper()})
    return {"shouted": True}


@realtime.on("broken")
async def broken(connection: Any, data: Any) -> None:
    raise RuntimeError("a bug in a handler")
