"""Room grants a token carries: room names, or patterns where `*` stands for any run of
characters (`chat.*`, `user.42`). A token with grants may use those rooms only."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoomGrants:
    patterns: tuple[str, ...]
    _match: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One regular expression for all patterns: a check is one match, however many grants.
        alternatives = "|".join(re.escape(p).replace(r"\*", ".*") for p in self.patterns)
        object.__setattr__(
            self, "_match", re.compile(f"(?:{alternatives})" if alternatives else "(?!)")
        )

    def allows(self, room: str) -> bool:
        return self._match.fullmatch(room) is not None


def room_grants_parse(claim: object) -> RoomGrants | None:
    """The grants of a token's `rooms` claim: None when it has none; ValueError when the claim
    is not a list of strings."""
    if claim is None:
        return None
    if not isinstance(claim, list) or not all(isinstance(p, str) and p for p in claim):
        raise ValueError("'rooms' must be a list of room names or patterns")
    return RoomGrants(tuple(claim))


def room_grants_of(rooms: Iterable[str] | None) -> list[str] | None:
    """The `rooms` claim to sign for `rooms` (names or patterns), checked the way it is read."""
    if rooms is None:
        return None
    if isinstance(rooms, str):
        raise TypeError("rooms is a list of room names or patterns, not one string")
    claim = list(rooms)
    room_grants_parse(claim)
    return claim
