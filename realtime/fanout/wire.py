"""The one message pods send each other about room events, versioned:

    {"type": "room.event", "v": 1, "room": R, "events": [[E, DATA, FROM], ...], "origin": POD}

DATA is the event's data as JSON text (encoded once, by the pod where it was emitted), FROM the
sender's connection id or null. `origin` is the sending pod's id, so that a pod skips what it
sent itself (it delivered that to its own members already); null when no pod sent it (`manage.py
emit`). The transport carries the message as it is (channels_redis: msgpack).

Any Channels code may also send a room's group the plain message of the Channels docs, which
is read as one event: {"type": "room.event", "room": R, "event": E, "data": ANY, "from"?: ID}.
"""

from __future__ import annotations

import json
from typing import Any

from realtime.fanout.types import RoomEvent

ROOM_EVENT = "room.event"
VERSION = 1


class UnreadableMessage(ValueError):
    """A room event message this pod cannot read; the message names what is wrong."""


def events_message(room: str, events: list[RoomEvent], origin: str | None) -> dict[str, Any]:
    return {
        "type": ROOM_EVENT,
        "v": VERSION,
        "room": room,
        "events": [[event.event, event.data, event.sender] for event in events],
        "origin": origin,
    }


def events_read(message: dict[str, Any]) -> list[RoomEvent]:
    """The room events of a message, or UnreadableMessage."""
    if "v" not in message:
        return [_plain_read(message)]
    if message["v"] != VERSION:
        raise UnreadableMessage(f"room event message version {message['v']!r}, expected {VERSION}")
    room, events = message.get("room"), message.get("events")
    if not isinstance(room, str) or not isinstance(events, list):
        raise UnreadableMessage("expected a room name and a list of events")
    try:
        return [RoomEvent(room, name, data, sender) for name, data, sender in events]
    except (TypeError, ValueError):
        raise UnreadableMessage("expected each event as [event, data, from]") from None


def events_in(message: dict[str, Any]) -> int:
    """How many room events a message carries (what is lost when it is dropped)."""
    events = message.get("events")
    return len(events) if isinstance(events, list) and events else 1


def data_encode(data: Any) -> str:
    """An event's data as the JSON text every protocol's frame carries; ValueError or TypeError
    for what JSON cannot carry."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _plain_read(message: dict[str, Any]) -> RoomEvent:
    try:
        return RoomEvent(
            message["room"], message["event"], data_encode(message.get("data")), message.get("from")
        )
    except KeyError as missing:
        raise UnreadableMessage(f"a plain room event needs {missing}") from None
    except (TypeError, ValueError, RecursionError):
        raise UnreadableMessage("its data cannot be sent as JSON") from None
