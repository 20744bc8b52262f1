"""Who a connection is: a token first (the query or a subprotocol on /ws/, the CONNECT auth on
Socket.IO), then the session cookie of its handshake."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.auth import get_user
from django.contrib.auth import get_user_model
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
    """Identify a /ws/ handshake: token (query or subprotocol) first, then the session."""
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
    admission = await user_admit(token, scope.get("headers", []), config)
    return Admission(admission.user, subprotocol, admission.refused)


async def user_admit(
    token: object, headers: Iterable[tuple[bytes, bytes]], config: RealtimeConfig
) -> Admission:
    """Any protocol's rule: a token, when there is one, decides (a bad one is refused); else
    the session cookie among `headers`, and REALTIME_REQUIRE_AUTH for anonymous clients."""
    if token is not None:
        user = token_user(token, config) if isinstance(token, str) else None
        if user is not None and not user.from_jwt and not await _django_user_active(user.id):
            user = None  # deactivated or deleted since the token was signed
        return Admission(user, refused=user is None)
    user = await session_user(headers, config)
    return Admission(user, refused=user is None and config.require_auth)


async def _django_user_active(user_id: Any) -> bool:
    """One query per token connection: a token must stop working when its user is deactivated,
    not an hour later when it expires."""
    return await get_user_model()._default_manager.filter(pk=user_id, is_active=True).aexists()


async def session_user(
    headers: Iterable[tuple[bytes, bytes]], config: RealtimeConfig
) -> ConnectionUser | None:
    """The user of the handshake's session cookie, if any.

    Read once here rather than with AuthMiddlewareStack, whose session wrapper would sit on
    every frame this connection is sent (it showed as 7% of a busy pod in py-spy).
    """
    cookies = parse_cookie(
        b"; ".join(value for name, value in headers if name == b"cookie").decode("latin1")
    )
    session_key = cookies.get(config.session_cookie_name)
    if not session_key:
        return None
    session = import_module(config.session_engine).SessionStore(session_key=session_key)
    user = await get_user({"session": session})
    return ConnectionUser(user.pk, user.get_username()) if user.is_authenticated else None
