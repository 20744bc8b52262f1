"""Room authorizers the tests load with REALTIME_ROOM_AUTHORIZER: the one docs/protocol.md
shows (a `user.<id>` room is that user's only), plain and async, and one with a bug."""

from __future__ import annotations

from realtime.access.users import ConnectionUser


def user_rooms_are_their_users(user: ConnectionUser | None, room: str, action: str) -> bool:
    """`user.<id>` rooms belong to that user alone; `staff.*` rooms take no emits from
    clients; every other room is open."""
    if room.startswith("user."):
        return user is not None and room == f"user.{user.id}"
    if room.startswith("staff."):
        return action != "emit"
    return True


async def user_rooms_are_their_users_async(
    user: ConnectionUser | None, room: str, action: str
) -> bool:
    return user_rooms_are_their_users(user, room, action)


def broken(user: ConnectionUser | None, room: str, action: str) -> bool:
    raise RuntimeError("a bug in the authorizer")
