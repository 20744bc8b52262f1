"""The WebSocket protocol of SPEC.md: what a client frame may be, and the frames we send back.

Validation only: nothing here knows about rooms, sockets or Redis, so every rule of the spec's
table is tested on plain strings.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from typing import Any

ROOM_NAME = re.compile(r"[A-Za-z0-9._-]{1,80}")
EVENT_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_ID_LENGTH = 128

MessageId = str | int | float | None


class ErrorCode(enum.StrEnum):
    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    BAD_MESSAGE = "bad_message"
    BAD_ROOM = "bad_room"
    BAD_EVENT = "bad_event"
    NOT_IN_ROOM = "not_in_room"
    TOO_LARGE = "too_large"
    TOO_MANY_ROOMS = "too_many_rooms"
    RATE_LIMITED = "rate_limited"


class ProtocolError(Exception):
    """A client broke a rule; the connection stays open and gets an error frame."""

    def __init__(self, code: ErrorCode, message: str, message_id: MessageId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_id = message_id

    def frame(self) -> str:
        return frame_encode(
            {"type": "error", "code": self.code.value, "message": self.message}, self.message_id
        )


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


ClientMessage = Join | Leave | Members | Emit | Ping
_ROOM_MESSAGES: dict[str, type[Join] | type[Leave] | type[Members]] = {
    "join": Join,
    "leave": Leave,
    "members": Members,
}


def frame_parse(text: str | None, binary: bytes | None, max_bytes: int) -> ClientMessage:
    """One client frame -> a message, or ProtocolError with the spec's code (and id if any)."""
    if text is None:
        size = len(binary or b"")
        if size > max_bytes:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is {size} bytes, limit {max_bytes}")
        raise ProtocolError(ErrorCode.BAD_JSON, "expected a JSON text frame, got a binary frame")
    # A character is at most 4 bytes: encode only when the length alone cannot decide.
    if len(text) > max_bytes // 4 and len(text.encode()) > max_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is over {max_bytes} bytes")
    payload = _json_load(text)
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, f"expected a JSON object, got {_kind(payload)}")
    message_id = _id_read(payload)
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"expected a string 'type', got {_kind(kind)}", message_id
        )
    if kind == "ping":
        return Ping(message_id)
    if kind in _ROOM_MESSAGES:
        return _ROOM_MESSAGES[kind](room_validate(payload, message_id), message_id)
    if kind == "emit":
        return _emit_parse(payload, message_id)
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", message_id)


def room_name_check(room: object) -> str:
    """The room name rule, shared by the protocol, server-side emit and group names."""
    if not isinstance(room, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected a string 'room', got {_kind(room)}")
    if not ROOM_NAME.fullmatch(room):
        raise ProtocolError(ErrorCode.BAD_ROOM, "room names are 1 to 80 of A-Z a-z 0-9 . _ -")
    return room


def event_name_check(event: object) -> str:
    if not isinstance(event, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected a string 'event', got {_kind(event)}")
    if not EVENT_NAME.fullmatch(event):
        raise ProtocolError(ErrorCode.BAD_EVENT, "event names are 1 to 64 of A-Z a-z 0-9 . _ : -")
    return event


def room_validate(payload: dict[str, Any], message_id: MessageId) -> str:
    try:
        return room_name_check(payload.get("room"))
    except ProtocolError as error:
        error.message_id = message_id
        raise


def frame_encode(body: dict[str, Any], message_id: MessageId = None) -> str:
    """A server frame; the client's id is echoed when its message had one."""
    if message_id is not None:
        body["id"] = message_id
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def event_frame(room: str, event: str, data: Any, sender: str | None) -> str:
    """The frame every member gets for an emit: encoded once, written to each socket as is."""
    try:
        return frame_encode(
            {"type": "event", "room": room, "event": event, "data": data, "from": sender}
        )
    except (ValueError, TypeError, RecursionError) as error:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "'data' cannot be sent as JSON") from error


def _emit_parse(payload: dict[str, Any], message_id: MessageId) -> Emit:
    room = room_validate(payload, message_id)
    try:
        event = event_name_check(payload.get("event"))
    except ProtocolError as error:
        error.message_id = message_id
        raise
    echo = payload.get("echo", True)
    if not isinstance(echo, bool):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"expected 'echo' true or false, got {_kind(echo)}", message_id
        )
    return Emit(room, event, payload.get("data"), echo, message_id)


def _json_load(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else "not valid JSON"
        raise ProtocolError(ErrorCode.BAD_JSON, f"frame is {reason}") from None


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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "nothing"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
