"""The rules every protocol applies to a client's requests (docs/protocol.md, Rules and error
codes): room and event names, error codes, and the error a broken rule is answered with."""

from __future__ import annotations

import enum
import json
import math
import re
from typing import Any

from realtime.fanout.types import RoomEvent
from realtime.fanout.wire import data_encode

ROOM_NAME = re.compile(r"[A-Za-z0-9._-]{1,80}")
EVENT_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")

# The id a client gave a request, echoed in the reply.
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
    FORBIDDEN = "forbidden"
    # A bug on our side while handling a request: one reply, never the connection.
    INTERNAL_ERROR = "internal_error"


class ProtocolError(Exception):
    """A client broke a rule; the connection stays open and gets an error reply."""

    def __init__(self, code: ErrorCode, message: str, message_id: MessageId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_id = message_id

    def body(self) -> dict[str, Any]:
        """The error object every protocol sends: {"type": "error", "code", "message"}."""
        return {"type": "error", "code": self.code.value, "message": self.message}


def rate_limited(message_id: MessageId = None) -> ProtocolError:
    """The error of a message over the connection's rate bucket, on every protocol."""
    return ProtocolError(ErrorCode.RATE_LIMITED, "too many messages: slow down", message_id)


def room_name_check(room: object) -> str:
    """The room name rule, shared by every protocol and server-side emit."""
    if not isinstance(room, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected a string 'room', got {kind(room)}")
    if not ROOM_NAME.fullmatch(room):
        raise ProtocolError(ErrorCode.BAD_ROOM, "room names are 1 to 80 of A-Z a-z 0-9 . _ -")
    return room


def event_name_check(event: object) -> str:
    if not isinstance(event, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"expected a string 'event', got {kind(event)}")
    if not EVENT_NAME.fullmatch(event):
        raise ProtocolError(ErrorCode.BAD_EVENT, "event names are 1 to 64 of A-Z a-z 0-9 . _ : -")
    return event


def room_event_make(room: str, event: str, data: Any, sender: str | None) -> RoomEvent:
    """A room event with its data encoded once; ProtocolError for data JSON cannot carry."""
    try:
        return RoomEvent(room, event, data_encode(data), sender)
    except (ValueError, TypeError, RecursionError) as error:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "'data' cannot be sent as JSON") from error


def json_parse(text: str, what: str) -> Any:
    """A client's JSON: no NaN or infinity, no numbers out of range; ProtocolError `bad_json`
    saying what (`what`: a frame, a packet) was wrong."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else "not valid JSON"
        raise ProtocolError(ErrorCode.BAD_JSON, f"{what} is {reason}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def kind(value: object) -> str:
    """What a value is, for an error that says what was expected and what came."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "nothing"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
