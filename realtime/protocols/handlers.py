"""Server-side event handlers: Python that answers client events of its own names, on /ws/ and
on Socket.IO alike, as a NestJS gateway's @SubscribeMessage handlers did.

    import realtime

    @realtime.on("typing")
    async def typing(connection, data):
        await realtime.room_emit(data["room"], "typing", {"who": connection.connection_id})
        return {"ok": True}

Modules named by REALTIME_HANDLERS are imported at start-up, which registers their handlers. The
registry is filled at import time, as Django's own registries are, and read-only after.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured

from realtime.access.users import ConnectionUser
from realtime.protocols.rules import EVENT_NAME

__all__ = ["HandlerConnection", "handler_for", "handlers_import", "on"]

# Names the protocols use themselves, for client requests or for what the server sends.
RESERVED_NAMES = frozenset(
    {
        "join",
        "leave",
        "emit",
        "members",
        "ping",
        "pong",
        "welcome",
        "error",
        "reply",
        "event",
        "ack",
    }
)

Handler = Callable[["HandlerConnection", Any], Any]
_handlers: dict[str, Handler] = {}
_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HandlerConnection:
    """What a handler is told of the connection that sent the event."""

    connection_id: str
    user: ConnectionUser | None
    rooms: frozenset[str]
    protocol: str


def on(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function (plain or async) for client events called `name`."""
    if not isinstance(name, str) or not EVENT_NAME.fullmatch(name):
        raise ImproperlyConfigured(f"handler names follow the event name rule, got {name!r}")
    if name in RESERVED_NAMES:
        raise ImproperlyConfigured(f"{name!r} is the protocol's own: pick another handler name")

    def register(function: Handler) -> Handler:
        global _names
        if name in _handlers and _handlers[name] is not function:
            raise ImproperlyConfigured(f"two handlers for {name!r}")
        _handlers[name] = function
        _names = frozenset(_handlers)
        return function

    return register


def handler_for(name: str) -> Callable[[HandlerConnection, Any], Awaitable[Any]] | None:
    """The registered handler for `name` as a coroutine function, or None."""
    function = _handlers.get(name)
    if function is None:
        return None
    if inspect.iscoroutinefunction(function):
        return function
    # A plain function may use the ORM: it runs in Django's thread for sync code.
    return sync_to_async(function)


def handler_names() -> frozenset[str]:
    """The names handlers answer to (read on every /ws/ frame: kept ready)."""
    return _names


def handlers_import(modules: Iterable[str]) -> None:
    """Import the modules of REALTIME_HANDLERS; a wrong name fails start-up, saying which."""
    for module in modules:
        try:
            import_module(module)
        except ImportError as error:
            raise ImproperlyConfigured(f"REALTIME_HANDLERS names {module!r}: {error}") from error
