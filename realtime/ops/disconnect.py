"""Staff close one connection, on whatever pod holds it, through the channel layer.

The admin sends `connection.close` to the owning pod's own channel (the hub's channel, carried
in its stats snapshot); that pod's hub hands it to `connection_close_handle`, which closes the
connection with CLOSED_BY_STAFF.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer

from realtime.fanout.types import Member
from realtime.protocols.closecodes import CloseCode

logger = logging.getLogger(__name__)

CONNECTION_CLOSE = "connection.close"


async def connection_close_send(
    connection_id: str, channels: Iterable[str], layer: BaseChannelLayer | None = None
) -> None:
    """Ask the pods listening on `channels` to close `connection_id`; only its owner has it.
    Through this process's channel layer, unless another is given."""
    layer = layer or get_channel_layer()
    message = {
        "type": CONNECTION_CLOSE,
        "connection_id": connection_id,
        "code": int(CloseCode.CLOSED_BY_STAFF),
    }
    for channel in channels:
        await layer.send(channel, message)


async def connection_close_handle(
    connections: Mapping[str, Member], message: dict[str, Any]
) -> bool:
    """Close the local connection named in `message`; False when it is not on this pod."""
    connection_id = str(message.get("connection_id", ""))
    connection = connections.get(connection_id)
    if connection is None:
        return False
    code = int(message.get("code", CloseCode.CLOSED_BY_STAFF))
    logger.info("Closing connection %s for staff (code %d)", connection_id, code)
    await connection.close(code)
    return True
