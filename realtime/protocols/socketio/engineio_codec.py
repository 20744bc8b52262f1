"""Engine.IO 4 packets and payloads, as pure functions (protocol:
https://github.com/socketio/engine.io-protocol).

A packet is one character of type and its data: `4hello` is a message, `2` a ping. An HTTP
long-polling payload joins packets with the record separator `\\x1e`. Binary packets (`b` and
base64 in a payload) are refused by this server: the product carries JSON only.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

SEPARATOR = "\x1e"
PROBE = "probe"


class PacketType(enum.IntEnum):
    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


class EngineError(enum.IntEnum):
    """The error codes of an HTTP 400 answer, with engine.io's own messages."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5

    @property
    def message(self) -> str:
        return _ERROR_MESSAGES[self]


_ERROR_MESSAGES = {
    EngineError.UNKNOWN_TRANSPORT: "Transport unknown",
    EngineError.UNKNOWN_SID: "Session ID unknown",
    EngineError.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    EngineError.BAD_REQUEST: "Bad request",
    EngineError.FORBIDDEN: "Forbidden",
    EngineError.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class MalformedPacket(ValueError):
    """Text that is no Engine.IO packet; the message says what came."""


@dataclass(frozen=True, slots=True)
class Packet:
    type: PacketType
    data: str = ""


def packet_encode(packet_type: PacketType, data: str = "") -> str:
    return f"{packet_type.value}{data}"


def packet_decode(text: str) -> Packet:
    if not text:
        raise MalformedPacket("an empty packet")
    if text[0] == "b":
        raise MalformedPacket("a binary packet: this server carries text only")
    if not "0" <= text[0] <= "6":
        raise MalformedPacket(f"unknown packet type {text[0]!r}")
    return Packet(PacketType(int(text[0])), text[1:])


def payload_encode(packets: list[str]) -> str:
    """Encoded packets as one polling response body."""
    return SEPARATOR.join(packets)


def payload_decode(body: str) -> list[str]:
    """A polling request body's packets, still encoded (each decoded on its own)."""
    return body.split(SEPARATOR) if body else []


def open_packet(
    sid: str, upgrades: list[str], ping_interval: float, ping_timeout: float, max_payload: int
) -> str:
    """The handshake: what a new session is told. Intervals go in milliseconds."""
    handshake = {
        "sid": sid,
        "upgrades": upgrades,
        "pingInterval": round(ping_interval * 1000),
        "pingTimeout": round(ping_timeout * 1000),
        "maxPayload": max_payload,
    }
    return packet_encode(PacketType.OPEN, json.dumps(handshake, separators=(",", ":")))


def error_body(error: EngineError) -> bytes:
    """An HTTP 400's body: `{"code": N, "message": "..."}`."""
    return json.dumps({"code": int(error), "message": error.message}).encode()
