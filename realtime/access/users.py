"""Who a connection is: the little of a user that a connection keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime.access.grants import RoomGrants


@dataclass(frozen=True)
class ConnectionUser:
    """A Django user (`id` its primary key), or a JWT's subject (`id` and `username` both its
    `sub`; `from_jwt`). `rooms`: the token's room grants; None when it carries none (every room,
    as far as grants go)."""

    id: Any
    username: str
    rooms: RoomGrants | None = None
    from_jwt: bool = False
