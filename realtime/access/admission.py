"""Who a WebSocket handshake is: a token (query or subprotocol) first, then the session cookie."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.auth import get_user
from django.http.cookie import parse_cookie

from realtime.access.tokens import TOKEN_SUBPROTOCOL_PREFIX, token_user
from realtime.access.users import ConnectionUser
from realtime.config import RealtimeConfig


@dataclass(frozen=True)
class Admission:
    """What the consumer needs to accept a connection: who it is, and what to echo back."""

    user: ConnectionUser | None
    subprotocol: str | None = None
    refused: bool = False


async def connection_admit(scope: dict[str, Any], config: RealtimeConfig) -> Admission:
    """Identify a WebSocket handshake: token (query or subprotocol) first, then the session."""
    subprotocol = next(
        (p for p in scope.get("subprotocols", []) if p.startswith(TOKEN_SUBPROTOCOL_PREFIX)),
        None,
    )
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    token = (
        subprotocol.removeprefix(TOKEN_SUBPROTOCOL_PREFIX)
        if subprotocol
        else query.get("token", [None])[0]
    )
    if token is not None:
        user = token_user(token, config.token_max_age)
        return Admission(user, subprotocol, refused=user is None)
    user = await session_user(scope, config)
    return Admission(user, refused=user is None and config.require_auth)


async def session_user(scope: dict[str, Any], config: RealtimeConfig) -> ConnectionUser | None:
    """The user of the handshake's session cookie, if any.

    Read once here rather than with AuthMiddlewareStack, whose session wrapper would sit on
    every frame this connection is sent (it showed as 7% of a busy pod in py-spy).
    """
    cookies = parse_cookie(
        b"; ".join(value for name, value in scope.get("headers", []) if name == b"cookie").decode(
            "latin1"
        )
    )
    session_key = cookies.get(config.session_cookie_name)
    if not session_key:
        return None
    session = import_module(config.session_engine).SessionStore(session_key=session_key)
    user = await get_user({"session": session})
    return ConnectionUser(user.pk, user.get_username()) if user.is_authenticated else None
