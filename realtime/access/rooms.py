"""Who may use which room: the token's room grants, then REALTIME_ROOM_AUTHORIZER, for `join`,
`emit` and `members` on every protocol (docs/protocol.md, room access)."""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from functools import cache

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from realtime.access.users import ConnectionUser

logger = logging.getLogger(__name__)


class RoomAction(enum.StrEnum):
    JOIN = "join"
    EMIT = "emit"
    MEMBERS = "members"


RoomAuthorizer = Callable[[ConnectionUser | None, str, str], Awaitable[bool]]


@cache
def room_authorizer(path: str) -> RoomAuthorizer:
    """The function at `path`, `(user, room, action) -> bool`, plain or async; a plain one runs
    in Django's thread for sync code, so it may use the ORM. A wrong path fails start-up."""
    try:
        function = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"REALTIME_ROOM_AUTHORIZER names {path!r}: {error}") from error
    if not callable(function):
        raise ImproperlyConfigured(f"REALTIME_ROOM_AUTHORIZER names {path!r}: not a function")
    if inspect.iscoroutinefunction(function):
        return function
    return sync_to_async(function)


def room_check_needed(user: ConnectionUser | None, authorizer_path: str | None) -> bool:
    """False when nothing restricts rooms: no grants and no authorizer (the fast path)."""
    return authorizer_path is not None or (user is not None and user.rooms is not None)


async def room_allowed(
    user: ConnectionUser | None, room: str, action: RoomAction, authorizer_path: str | None
) -> bool:
    """May `user` (None: anonymous) do `action` in `room`? The token's grants first, then the
    authorizer. An authorizer that raises refuses, and the error is logged."""
    if user is not None and user.rooms is not None and not user.rooms.allows(room):
        return False
    if authorizer_path is None:
        return True
    try:
        return bool(await room_authorizer(authorizer_path)(user, room, action.value))
    except Exception:
        logger.exception("REALTIME_ROOM_AUTHORIZER raised for %s in %r: refused", action, room)
        return False
