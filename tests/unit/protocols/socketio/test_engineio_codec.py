"""realtime.protocols.socketio.engineio_codec: Engine.IO 4 packets and payloads, on strings."""

from __future__ import annotations

import json

import pytest

from realtime.protocols.socketio.engineio_codec import (
    EngineError,
    MalformedPacket,
    Packet,
    PacketType,
    error_body,
    open_packet,
    packet_decode,
    packet_encode,
    payload_decode,
    payload_encode,
)


@pytest.mark.parametrize(
    ("text", "packet"),
    [
        ("0", Packet(PacketType.OPEN)),
        ("1", Packet(PacketType.CLOSE)),
        ("2", Packet(PacketType.PING)),
        ("2probe", Packet(PacketType.PING, "probe")),
        ("3probe", Packet(PacketType.PONG, "probe")),
        ("4hello", Packet(PacketType.MESSAGE, "hello")),
        ('42["e",{"ü":1}]', Packet(PacketType.MESSAGE, '2["e",{"ü":1}]')),
        ("5", Packet(PacketType.UPGRADE)),
        ("6", Packet(PacketType.NOOP)),
    ],
)
def test_packets_both_ways(text: str, packet: Packet) -> None:
    assert packet_decode(text) == packet
    assert packet_encode(packet.type, packet.data) == text


@pytest.mark.parametrize(("text", "reason"), [("", "empty"), ("abc", "'a'"), ("7", "'7'"),
                                              ("bAQIDBA==", "binary")])  # fmt: skip
def test_what_is_no_packet_says_why(text: str, reason: str) -> None:
    with pytest.raises(MalformedPacket, match=reason):
        packet_decode(text)


def test_a_payload_joins_packets_with_the_record_separator() -> None:
    packets = ["4test1", "4test2", "2"]
    assert payload_encode(packets) == "4test1\x1e4test2\x1e2"
    assert payload_decode("4test1\x1e4test2\x1e2") == packets
    assert payload_decode("") == []


def test_the_open_packet_gives_the_intervals_in_milliseconds() -> None:
    text = open_packet("abc", ["websocket"], 25, 20, 65536)
    assert text[0] == "0"
    assert json.loads(text[1:]) == {
        "sid": "abc",
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 65536,
    }
    # A fraction of a second is kept (python-socketio truncates it to 0).
    assert json.loads(open_packet("s", [], 0.3, 0.2, 1)[1:])["pingInterval"] == 300


def test_error_bodies_are_engine_ios_own() -> None:
    assert json.loads(error_body(EngineError.UNKNOWN_SID)) == {
        "code": 1,
        "message": "Session ID unknown",
    }
    assert json.loads(error_body(EngineError.UNSUPPORTED_PROTOCOL_VERSION)) == {
        "code": 5,
        "message": "Unsupported protocol version",
    }
