"""Room grants: names and `*` patterns, read from a token's `rooms` claim."""

from __future__ import annotations

import pytest

from realtime.access.grants import RoomGrants, room_grants_of, room_grants_parse


@pytest.mark.parametrize(
    ("patterns", "room", "allowed"),
    [
        (["lobby"], "lobby", True),
        (["lobby"], "lobby2", False),
        (["chat.*"], "chat.42", True),
        (["chat.*"], "chat.", True),
        (["chat.*"], "chats.42", False),
        (["chat.*"], "xchat.42", False),
        (["*.public"], "news.public", True),
        (["order.9931", "user.42"], "user.42", True),
        (["order.9931", "user.42"], "user.4", False),
        (["a.b"], "aXb", False),  # "." is a dot, not any character
        (["*"], "anything", True),
        ([], "lobby", False),  # grants of nothing allow nothing
    ],
)
def test_a_room_is_allowed_by_a_name_or_a_pattern(
    patterns: list[str], room: str, allowed: bool
) -> None:
    assert RoomGrants(tuple(patterns)).allows(room) is allowed


def test_a_claim_is_a_list_of_non_empty_strings_or_absent() -> None:
    assert room_grants_parse(None) is None
    assert room_grants_parse(["a", "b.*"]) == RoomGrants(("a", "b.*"))
    for claim in ["lobby", [1], [""], {"rooms": ["a"]}, [None]]:
        with pytest.raises(ValueError, match="list of room names"):
            room_grants_parse(claim)


def test_grants_to_sign_are_checked_as_they_will_be_read() -> None:
    assert room_grants_of(None) is None
    assert room_grants_of(("a", "b.*")) == ["a", "b.*"]
    with pytest.raises(TypeError, match="not one string"):
        room_grants_of("lobby")
    with pytest.raises(ValueError):
        room_grants_of([""])
