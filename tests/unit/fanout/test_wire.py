"""realtime.fanout.wire: the inter-pod message, both ways, and what it refuses."""

from __future__ import annotations

import pytest

from realtime.fanout import wire
from realtime.fanout.types import RoomEvent


def test_events_go_out_and_come_back_as_they_were() -> None:
    events = [RoomEvent("r", "chat", '{"t":"hi"}', "c1"), RoomEvent("r", "e", "null", None)]
    message = wire.events_message("r", events, "pod-1.ab12")
    assert message == {
        "type": "room.event",
        "v": 1,
        "room": "r",
        "events": [["chat", '{"t":"hi"}', "c1"], ["e", "null", None]],
        "origin": "pod-1.ab12",
    }
    assert wire.events_read(message) == events
    assert wire.events_in(message) == 2


def test_a_plain_channels_message_is_one_event_with_its_data_encoded() -> None:
    plain = {"type": "room.event", "room": "news", "event": "e", "data": {"ü": [1.5]}}
    assert wire.events_read(plain) == [RoomEvent("news", "e", '{"ü":[1.5]}', None)]
    assert wire.events_read({**plain, "from": "c9"})[0].sender == "c9"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "room.event", "v": 2, "room": "r", "events": []}, "version 2"),
        ({"type": "room.event", "v": 1, "room": 5, "events": []}, "room name"),
        ({"type": "room.event", "v": 1, "room": "r", "events": "e"}, "list of events"),
        ({"type": "room.event", "v": 1, "room": "r", "events": [["e", "1"]]}, "[event, data"),
        ({"type": "room.event", "v": 1, "room": "r", "events": [7]}, "[event, data"),
        ({"type": "room.event", "room": "r"}, "needs 'event'"),
        ({"type": "room.event", "room": "r", "event": "e", "data": b"\x00"}, "JSON"),
        ({"type": "room.event", "room": "r", "event": "e", "data": float("nan")}, "JSON"),
    ],
)
def test_what_cannot_be_read_says_why(message: dict, reason: str) -> None:
    with pytest.raises(wire.UnreadableMessage, match=reason.replace("[", r"\[")):
        wire.events_read(message)
