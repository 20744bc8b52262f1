"""The /ws/ protocol's frames (docs/protocol.md): what a client frame may be, and the frames we
send back.

Pure functions and values: nothing here knows about rooms, sockets or Redis, so every rule of
the protocol's table is tested on plain strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from realtime.fanout.types import RoomEvent
from realtime.protocols.rules import (
    ErrorCode,
    MessageId,
    ProtocolError,
    event_name_check,
    json_parse,
    kind,
    room_name_check,
)

MAX_ID_LENGTH = 128

# No NaN or infinity: clients must be able to parse what they get.
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


@dataclass(frozen=True)
class RoomMessage:
    room: str
    id: MessageId = None


class Join(RoomMessage):
    pass


class Leave(RoomMessage):
    pass


class Members(RoomMessage):
    pass


@dataclass(frozen=True)
class Emit:
    room: str
    event: str
    data: Any
    echo: bool = True
    id: MessageId = None


@dataclass(frozen=True)
class Ping:
    id: MessageId = None


@dataclass(frozen=True)
class HandlerCall:
    """A message for a server-side handler: `{"type": NAME, "data": ANY, "id": ...}`."""

    name: str
    data: Any
    id: MessageId = None


ClientMessage = Join | Leave | Members | Emit | Ping | HandlerCall
_ROOM_MESSAGES: dict[str, type[Join] | type[Leave] | type[Members]] = {
    "join": Join,
    "leave": Leave,
    "members": Members,
}


class WsEncoder:
    """A room event as the /ws/ `event` frame, ready for daphne: one ASGI message, built once
    per event and pod, handed to every /ws/ member's send."""

    def encode(self, event: RoomEvent) -> dict[str, str]:
        return {"type": "websocket.send", "text": event_frame(event)}


WS_ENCODER = WsEncoder()


def event_frame(event: RoomEvent) -> str:
    """`{"type":"event","room":R,"event":E,"data":D,"from":F}`, the data placed as it came."""
    return (
        f'{{"type":"event","room":{_compact(event.room)},"event":{_compact(event.event)},'
        f'"data":{event.data},"from":{_compact(event.sender)}}}'
    )


def frame_parse(
    text: str | None,
    binary: bytes | None,
    max_bytes: int,
    handler_names: Container[str] = (),
) -> ClientMessage:
    """One client frame -> a message, or ProtocolError with the protocol's code (and the id if
    any). A type among `handler_names` is a call of that server-side handler."""
    if text is None:
        size = len(binary or b"")
        if size > max_bytes:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is {size} bytes, limit {max_bytes}")
        raise ProtocolError(ErrorCode.BAD_JSON, "expected a JSON text frame, got a binary frame")
    # A character is at most 4 bytes: encode only when the length alone cannot decide.
    if len(text) > max_bytes // 4 and len(text.encode()) > max_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is over {max_bytes} bytes")
    payload = json_parse(text, "frame")
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, f"expected a JSON object, got {kind(payload)}")
    message_id = _id_read(payload)
    message_type = payload.get("type")
    if not isinstance(message_type, str):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"expected a string 'type', got {kind(message_type)}", message_id
        )
    if message_type == "ping":
        return Ping(message_id)
    if message_type in _ROOM_MESSAGES:
        return _ROOM_MESSAGES[message_type](
            _with_id(room_name_check, payload.get("room"), message_id), message_id
        )
    if message_type == "emit":
        return _emit_parse(payload, message_id)
    if message_type in handler_names:
        return HandlerCall(message_type, payload.get("data"), message_id)
    raise ProtocolError(
        ErrorCode.UNKNOWN_TYPE, f"unknown message type {message_type[:40]!r}", message_id
    )


def frame_encode(body: dict[str, Any], message_id: MessageId = None) -> str:
    """A server frame; the client's id is echoed when its message had one."""
    if message_id is not None:
        body["id"] = message_id
    return _compact(body)


def error_frame(error: ProtocolError) -> str:
    return frame_encode(error.body(), error.message_id)


def _emit_parse(payload: dict[str, Any], message_id: MessageId) -> Emit:
    room = _with_id(room_name_check, payload.get("room"), message_id)
    event = _with_id(event_name_check, payload.get("event"), message_id)
    echo = payload.get("echo", True)
    if not isinstance(echo, bool):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"expected 'echo' true or false, got {kind(echo)}", message_id
        )
    return Emit(room, event, payload.get("data"), echo, message_id)


def _with_id(check: Callable[[object], str], value: object, message_id: MessageId) -> str:
    """A name check whose error carries the id of the message it came in."""
    try:
        return check(value)
    except ProtocolError as error:
        error.message_id = message_id
        raise


def _id_read(payload: dict[str, Any]) -> MessageId:
    """The message's id, or None; a malformed id is an error that cannot carry it."""
    if "id" not in payload:
        return None
    message_id = payload["id"]
    valid = (isinstance(message_id, str) and len(message_id) <= MAX_ID_LENGTH) or (
        isinstance(message_id, int | float)
        and not isinstance(message_id, bool)
        and abs(message_id) < 2**53
    )
    if not valid:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            f"expected 'id' to be a string of at most {MAX_ID_LENGTH} characters or a number",
        )
    return message_id
