"""Server-side emit: any Django process with the same settings reaches a room on every pod."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime.protocol import event_frame, event_name_check, room_name_check
from realtime.rooms import ROOM_EVENT, room_group


async def room_emit(room: str, event: str, data: Any = None) -> None:
    """Send `event` to every member of `room` on every pod, `"from": null`.

    Raises ProtocolError for a bad room or event name, or data that is not JSON.
    """
    room_name_check(room)
    event_name_check(event)
    text = event_frame(room, event, data, None)
    await get_channel_layer().group_send(
        room_group(room), {"type": ROOM_EVENT, "room": room, "text": text}
    )


room_emit_sync = async_to_sync(room_emit)
