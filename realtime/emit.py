"""Server-side emit: any Django process with the same settings reaches a room on every pod.

In a pod (a view or handler running on its event loop) the event takes the path of a client's
emit: the hub delivers it to this pod's members and forwards it to the others. Anywhere else (a
management command, a worker) it leaves through the same transport call as the hub's forwards,
and every pod delivers it.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime.fanout.transport import ChannelLayerTransport
from realtime.pod.layers import layer_in_use
from realtime.pod.lifecycle import pod_running
from realtime.protocols.rules import event_name_check, room_event_make, room_name_check

__all__ = ["room_emit", "room_emit_sync"]


async def room_emit(room: str, event: str, data: Any = None) -> None:
    """Send `event` to every member of `room` on every pod, `"from": null`.

    Raises ProtocolError for a bad room or event name, or data that JSON cannot carry.
    """
    room_event = room_event_make(room_name_check(room), event_name_check(event), data, None)
    pod = pod_running()
    if pod is not None and not pod.draining:
        await pod.hub.publish(room_event)
        return
    transport = ChannelLayerTransport(get_channel_layer(), layer_in_use().value)
    await transport.events_publish(room, [room_event], origin=None)


room_emit_sync = async_to_sync(room_emit)
