"""realtime.protocols.ws.codec: every rule of the protocol's table, and the frames we send, on
plain strings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.fanout.types import RoomEvent
from realtime.protocols.rules import ErrorCode, ProtocolError, room_event_make
from realtime.protocols.ws.codec import (
    WS_ENCODER,
    Emit,
    Join,
    Leave,
    Members,
    Ping,
    error_frame,
    event_frame,
    frame_parse,
)
from tests.support.strategies import json_values

LIMIT = 65536


def parse(payload: object) -> object:
    return frame_parse(json.dumps(payload), None, LIMIT)


def error_of(text: str | None, binary: bytes | None = None, limit: int = LIMIT) -> ProtocolError:
    with pytest.raises(ProtocolError) as raised:
        frame_parse(text, binary, limit)
    return raised.value


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "join", "room": "lobby"}, Join("lobby")),
        ({"type": "leave", "room": "a.b_c-9", "id": 3}, Leave("a.b_c-9", 3)),
        ({"type": "members", "room": "r", "id": "m1"}, Members("r", "m1")),
        ({"type": "ping"}, Ping()),
        ({"type": "ping", "id": 1.5}, Ping(1.5)),
        (
            {"type": "emit", "room": "r", "event": "chat:new", "data": {"x": [1]}, "id": 9},
            Emit("r", "chat:new", {"x": [1]}, True, 9),
        ),
        ({"type": "emit", "room": "r", "event": "e", "echo": False}, Emit("r", "e", None, False)),
        ({"type": "join", "room": "x" * 80, "extra": "ignored"}, Join("x" * 80)),
    ],
)
def test_valid_messages(payload: dict, message: object) -> None:
    assert parse(payload) == message


@pytest.mark.parametrize(
    ("text", "code", "message_id"),
    [
        ("not json", ErrorCode.BAD_JSON, None),
        ("[1, 2]", ErrorCode.BAD_JSON, None),
        ('"a string"', ErrorCode.BAD_JSON, None),
        ("NaN", ErrorCode.BAD_JSON, None),
        ('{"type": "emit", "room": "r", "event": "e", "data": 1e999}', ErrorCode.BAD_JSON, None),
        ('{"type": "ping", "data": Infinity}', ErrorCode.BAD_JSON, None),
        ("[" * 100_000 + "]" * 100_000, ErrorCode.TOO_LARGE, None),
        ("[" * 30_000 + "]" * 30_000, ErrorCode.BAD_JSON, None),
        ('{"id": 1}', ErrorCode.BAD_MESSAGE, 1),
        ('{"type": 7, "id": "x"}', ErrorCode.BAD_MESSAGE, "x"),
        ('{"type": "shout", "id": 2}', ErrorCode.UNKNOWN_TYPE, 2),
        ('{"type": "join", "id": 3}', ErrorCode.BAD_MESSAGE, 3),
        ('{"type": "join", "room": 5, "id": 4}', ErrorCode.BAD_MESSAGE, 4),
        ('{"type": "join", "room": "", "id": 5}', ErrorCode.BAD_ROOM, 5),
        ('{"type": "join", "room": "has space"}', ErrorCode.BAD_ROOM, None),
        ('{"type": "leave", "room": "' + "x" * 81 + '"}', ErrorCode.BAD_ROOM, None),
        ('{"type": "members", "room": "a/b", "id": 6}', ErrorCode.BAD_ROOM, 6),
        ('{"type": "emit", "room": "r", "id": 7}', ErrorCode.BAD_MESSAGE, 7),
        ('{"type": "emit", "room": "r", "event": "bad event", "id": 8}', ErrorCode.BAD_EVENT, 8),
        ('{"type": "emit", "room": "r", "event": "' + "e" * 65 + '"}', ErrorCode.BAD_EVENT, None),
        (
            '{"type": "emit", "room": "r", "event": "e", "echo": "no", "id": 9}',
            ErrorCode.BAD_MESSAGE,
            9,
        ),
        ('{"type": "emit", "room": "r r", "event": "e", "id": 10}', ErrorCode.BAD_ROOM, 10),
        ('{"type": "ping", "id": {"nested": 1}}', ErrorCode.BAD_MESSAGE, None),
        ('{"type": "ping", "id": true}', ErrorCode.BAD_MESSAGE, None),
        ('{"type": "ping", "id": 1e300}', ErrorCode.BAD_MESSAGE, None),
        ('{"type": "ping", "id": "' + "i" * 129 + '"}', ErrorCode.BAD_MESSAGE, None),
    ],
)
def test_each_rule_has_its_code_and_keeps_the_id(text: str, code: ErrorCode, message_id) -> None:
    error = error_of(text)
    assert error.code is code
    assert error.message_id == message_id
    frame = json.loads(error_frame(error))
    assert frame["type"] == "error"
    assert frame["code"] == code.value
    assert frame["message"]
    assert frame.get("id") == message_id


def test_binary_frames_are_bad_json() -> None:
    assert error_of(None, b'{"type": "ping"}').code is ErrorCode.BAD_JSON


def test_too_large_counts_bytes_not_characters() -> None:
    ping = '{"type": "ping", "pad": "%s"}'
    assert frame_parse(ping % ("x" * 100), None, 200) == Ping()
    # 60 four-byte characters: 60 characters but 240 bytes.
    error = error_of(ping % ("\U0001f600" * 60), limit=200)
    assert error.code is ErrorCode.TOO_LARGE
    assert error.message_id is None
    assert error_of(None, b"x" * 201, limit=200).code is ErrorCode.TOO_LARGE


def test_errors_say_what_was_expected_and_what_came() -> None:
    assert error_of("[1]").message == "expected a JSON object, got a list"
    assert "got a number" in error_of('{"type": "join", "room": 5}').message


def test_event_frame_is_compact_json() -> None:
    frame = event_frame(room_event_make("r", "e", {"ü": [1, None]}, "c1"))
    assert frame == '{"type":"event","room":"r","event":"e","data":{"ü":[1,null]},"from":"c1"}'


@given(
    room=st.text(),
    event=st.text(),
    data=json_values,
    sender=st.none() | st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)
def test_event_frame_is_the_frame_json_dumps_makes_of_the_whole_event(
    room: str, event: str, data: object, sender: str | None
) -> None:
    """The frame is built from the data's JSON text, placed as it is: it must be exactly what
    encoding the whole frame at once gives (what earlier releases sent)."""
    whole = {"type": "event", "room": room, "event": event, "data": data, "from": sender}
    expected = json.dumps(whole, separators=(",", ":"), ensure_ascii=False)
    assert event_frame(room_event_make(room, event, data, sender)) == expected


def test_the_encoder_gives_one_asgi_message_to_hand_every_member() -> None:
    event = RoomEvent("r", "e", "1", None)
    assert WS_ENCODER.encode(event) == {"type": "websocket.send", "text": event_frame(event)}


def test_data_json_cannot_carry_is_bad_message() -> None:
    for data in (float("nan"), float("inf"), {1j}, object()):
        with pytest.raises(ProtocolError) as raised:
            room_event_make("r", "e", data, None)
        assert raised.value.code is ErrorCode.BAD_MESSAGE


def test_error_frame_carries_the_id_when_there_is_one() -> None:
    error = ProtocolError(ErrorCode.NOT_IN_ROOM, "join 'r' first", "m1")
    assert json.loads(error_frame(error)) == {
        "type": "error",
        "code": "not_in_room",
        "message": "join 'r' first",
        "id": "m1",
    }
    assert "id" not in json.loads(error_frame(ProtocolError(ErrorCode.TOO_LARGE, "big")))
