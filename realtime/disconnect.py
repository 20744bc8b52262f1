"""Staff close one connection, on whatever pod holds it, through the channel layer.

The admin sends `connection.close` to the owning pod's own channel (PodRooms.channel, carried
in its stats snapshot); that pod's dispatcher closes the socket with CLOSED_BY_STAFF.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer

if TYPE_CHECKING:
    from realtime.rooms import PodRooms

logger = logging.getLogger(__name__)

CONNECTION_CLOSE = "connection.close"
# 4000-4999 is for applications; 4001/4003 are left to authentication.
CLOSED_BY_STAFF = 4100


async def connection_close_send(connection_id: str, channels: Iterable[str]) -> None:
    """Ask the pods listening on `channels` to close `connection_id`; only its owner has it."""
    layer = get_channel_layer()
    message = {"type": CONNECTION_CLOSE, "connection_id": connection_id, "code": CLOSED_BY_STAFF}
    for channel in channels:
        await layer.send(channel, message)


async def connection_close_handle(rooms: PodRooms, message: dict[str, Any]) -> bool:
    """Close the local connection named in `message`; False when it is not on this pod."""
    connection_id = str(message.get("connection_id", ""))
    connection = rooms.connections.get(connection_id)
    if connection is None:
        return False
    code = int(message.get("code", CLOSED_BY_STAFF))
    logger.info("Closing connection %s for staff (code %d)", connection_id, code)
    await connection.close_with(code)
    return True
