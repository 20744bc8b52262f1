"""Murror realtime: rooms over WebSockets, shared by every pod through Redis.

The public API for Python code: `room_emit` (async) and `room_emit_sync`; `on`, the decorator of
server-side event handlers; `token_for`, a token for a user, with room grants. They are imported
on first use, so that settings, which import parts of this package, load without Django set up.
"""

from __future__ import annotations

from typing import Any

__all__ = ["on", "room_emit", "room_emit_sync", "token_for"]


def __getattr__(name: str) -> Any:
    if name == "on":
        from realtime.protocols.handlers import on

        return on
    if name == "token_for":
        from realtime.access.tokens import token_for

        return token_for
    if name in __all__:
        from realtime import emit

        return getattr(emit, name)
    raise AttributeError(f"module 'realtime' has no attribute {name!r}")
