"""realtime.protocols.socketio.socketio_codec: Socket.IO 5 packets and room events, on strings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.fanout.types import RoomEvent
from realtime.protocols.rules import ErrorCode, ProtocolError, room_event_make
from realtime.protocols.socketio.socketio_codec import (
    SIO_ENCODER,
    SioPacket,
    SioType,
    ack_id_peek,
    ack_packet,
    connect_error,
    connect_reply,
    disconnect_packet,
    event_packet,
    event_text,
    packet_decode,
)
from tests.support.strategies import json_values


@pytest.mark.parametrize(
    ("text", "packet"),
    [
        ("0", SioPacket(SioType.CONNECT)),
        ('0{"token":"123"}', SioPacket(SioType.CONNECT, data={"token": "123"})),
        ("0/custom,", SioPacket(SioType.CONNECT, "/custom")),
        ("0/random", SioPacket(SioType.CONNECT, "/random")),
        ('0/custom,{"token":"abc"}', SioPacket(SioType.CONNECT, "/custom", data={"token": "abc"})),
        ("1", SioPacket(SioType.DISCONNECT)),
        ('2["message",1,"2",{"3":[true]}]',
         SioPacket(SioType.EVENT, data=["message", 1, "2", {"3": [True]}])),
        ('2456["join","r"]', SioPacket(SioType.EVENT, ack_id=456, data=["join", "r"])),
        ('2/admin,12["e"]', SioPacket(SioType.EVENT, "/admin", 12, ["e"])),
        ('3456[1,"2"]', SioPacket(SioType.ACK, ack_id=456, data=[1, "2"])),
        (
            '52-789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            SioPacket(SioType.BINARY_EVENT, ack_id=789, attachments=2, data=[
                "m", {"_placeholder": True, "num": 0}, {"_placeholder": True, "num": 1}]),
        ),
    ],
)  # fmt: skip
def test_packets_decode(text: str, packet: SioPacket) -> None:
    assert packet_decode(text) == packet


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", ErrorCode.BAD_MESSAGE),
        ("abc", ErrorCode.BAD_MESSAGE),
        ("2{}", ErrorCode.BAD_MESSAGE),  # an EVENT is a list
        ("2[]", ErrorCode.BAD_MESSAGE),  # with the event's name first
        ("2[7]", ErrorCode.BAD_MESSAGE),
        ('2abc["m",1]', ErrorCode.BAD_JSON),  # an ack id of letters: no JSON follows
        ("2[NaN]", ErrorCode.BAD_JSON),
        ('0"token"', ErrorCode.BAD_MESSAGE),
        ("3{}", ErrorCode.BAD_MESSAGE),
        ("5[]", ErrorCode.BAD_MESSAGE),  # binary without its attachments
        ('299999999999999999["e"]', ErrorCode.BAD_MESSAGE),  # ack id past 2^53
    ],
)
def test_what_socket_io_refuses(text: str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as raised:
        packet_decode(text)
    assert raised.value.code is code


def test_what_the_server_sends() -> None:
    assert connect_reply("s1") == '40{"sid":"s1"}'
    assert connect_error("unauthorized") == '44{"message":"unauthorized"}'
    assert (
        connect_error("Invalid namespace", "/random") == '44/random,{"message":"Invalid namespace"}'
    )
    assert disconnect_packet() == "41"
    assert event_packet("welcome", {"pod": "p"}) == '42["welcome",{"pod":"p"}]'
    assert ack_packet(456, {"type": "joined", "room": "r"}) == '43456[{"type":"joined","room":"r"}]'


def test_the_ack_id_of_a_packet_too_large_to_parse() -> None:
    assert ack_id_peek('217["emit",' + "x" * 100) == 17
    assert ack_id_peek('2/admin,9["e"]') == 9
    assert ack_id_peek('52-3["e"]') == 3
    assert ack_id_peek('2["e"]') is None
    assert ack_id_peek("0") is None


@given(room=st.text(), event=st.text(), data=json_values, sender=st.none() | st.text())
def test_a_room_event_is_the_event_with_data_and_meta(
    room: str, event: str, data: object, sender: str | None
) -> None:
    text = event_text(room_event_make(room, event, data, sender))
    assert text.startswith("42")
    assert json.loads(text[2:]) == [event, data, {"room": room, "from": sender}]


def test_the_encoder_builds_the_asgi_message_once_with_the_text() -> None:
    frame = SIO_ENCODER.encode(RoomEvent("r", "chat", '{"t":1}', "c1"))
    assert frame.text == '42["chat",{"t":1},{"room":"r","from":"c1"}]'
    assert frame.message == {"type": "websocket.send", "text": frame.text}
