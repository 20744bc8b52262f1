"""Socket.IO 5 packets, as pure functions (protocol: https://github.com/socketio/socket.io-protocol).

A packet travels in an Engine.IO message: `<type>[<attachments>-][<namespace>,][<ack id>][JSON]`,
so an event with an ack on the main namespace reads `21["join","lobby"]` (and `421[...]` on the
wire). Room events for Socket.IO members are encoded here too, once per event and pod.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from realtime.fanout.types import RoomEvent
from realtime.protocols.rules import ErrorCode, ProtocolError, json_parse, kind

MAIN_NAMESPACE = "/"
# Ack ids are JavaScript numbers: past 2^53 a client could not match its own id.
MAX_ACK_ID = 2**53 - 1

# No NaN or infinity: clients must be able to parse what they get.
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class SioType(enum.IntEnum):
    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(frozen=True, slots=True)
class SioPacket:
    type: SioType
    namespace: str = MAIN_NAMESPACE
    ack_id: int | None = None
    data: Any = None
    attachments: int = 0


class SioEncoder:
    """A room event as the Socket.IO event E with two arguments, the data and
    `{"room": R, "from": F}`: `socket.on(E, (data, meta) => ...)`. One text per event and pod,
    and the ASGI message built from it for every member on the websocket transport."""

    def encode(self, event: RoomEvent) -> SioFrame:
        return SioFrame(event_text(event))


SIO_ENCODER = SioEncoder()


class SioFrame:
    """An Engine.IO message packet, as polling buffers take it and as daphne's send does."""

    __slots__ = ("message", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.message = {"type": "websocket.send", "text": text}


def event_text(event: RoomEvent) -> str:
    """`42["E",DATA,{"room":R,"from":F}]`, the data placed as it came (Engine.IO message)."""
    meta = f'{{"room":{_compact(event.room)},"from":{_compact(event.sender)}}}'
    return f"42[{_compact(event.event)},{event.data},{meta}]"


def packet_decode(text: str) -> SioPacket:
    """One Socket.IO packet; ProtocolError with the code to answer when it is not one."""
    if not text or not "0" <= text[0] <= "6":
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"unknown Socket.IO packet type {text[:1]!r}")
    packet_type = SioType(int(text[0]))
    position, attachments = 1, 0
    if packet_type in (SioType.BINARY_EVENT, SioType.BINARY_ACK):
        dash = text.find("-", position)
        if dash < 0 or not text[position:dash].isdigit():
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "binary packet without its attachments")
        attachments, position = int(text[position:dash]), dash + 1
    namespace = MAIN_NAMESPACE
    if text.startswith("/", position):
        comma = text.find(",", position)
        end = comma if comma >= 0 else len(text)
        namespace, position = text[position:end], end + 1
    digits = position
    while digits < len(text) and text[digits].isdigit():
        digits += 1
    ack_id = int(text[position:digits]) if digits > position else None
    if ack_id is not None and ack_id > MAX_ACK_ID:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "ack id out of range")
    payload = json_parse(text[digits:], "packet") if digits < len(text) else None
    _payload_check(packet_type, payload)
    return SioPacket(packet_type, namespace, ack_id, payload, attachments)


def ack_id_peek(text: str) -> int | None:
    """The ack id of an EVENT packet read without its JSON (a packet too large to parse still
    gets its error in its ack)."""
    if not text.startswith(("2", "5")):
        return None
    position = 1
    if text.startswith("5"):
        position = text.find("-") + 1
        if position == 0:
            return None
    if text.startswith("/", position):
        comma = text.find(",", position)
        if comma < 0:
            return None
        position = comma + 1
    digits = position
    while digits < len(text) and digits - position < 16 and text[digits].isdigit():
        digits += 1
    return int(text[position:digits]) if digits > position else None


def _payload_check(packet_type: SioType, payload: Any) -> None:
    """What socket.io's own parser accepts for each type."""
    if packet_type is SioType.CONNECT and payload is not None and not isinstance(payload, dict):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"expected CONNECT's auth as an object, got {kind(payload)}"
        )
    if packet_type in (SioType.EVENT, SioType.BINARY_EVENT) and not (
        isinstance(payload, list) and payload and isinstance(payload[0], str)
    ):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, "expected an EVENT as a list starting with the event's name"
        )
    if packet_type in (SioType.ACK, SioType.BINARY_ACK) and not isinstance(payload, list):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "expected an ACK as a list")


def connect_reply(sid: str) -> str:
    """The CONNECT answer, as an Engine.IO message: `40{"sid":"..."}`."""
    return "40" + _compact({"sid": sid})


def connect_error(message: str, namespace: str = MAIN_NAMESPACE) -> str:
    return "44" + _namespaced(namespace) + _compact({"message": message})


def disconnect_packet() -> str:
    return "41"


def event_packet(name: str, *args: Any) -> str:
    """An EVENT from the server, as an Engine.IO message: `42["name",...]`."""
    return "42" + _compact([name, *args])


def ack_packet(ack_id: int, *args: Any) -> str:
    return f"43{ack_id}" + _compact(list(args))


def _namespaced(namespace: str) -> str:
    return "" if namespace == MAIN_NAMESPACE else f"{namespace},"
