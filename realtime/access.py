"""Who may connect to /ws/: browsers from allowed origins, and users proven by a session
cookie or a signed, expiring token (for clients without cookies: mobile apps, services)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.auth import get_user
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.core import signing
from django.http.cookie import parse_cookie

TOKEN_SALT = "murror.realtime.token"
TOKEN_SUBPROTOCOL_PREFIX = "murror.token."
UNAUTHORIZED = 4401
# "." keeps the token a valid Sec-WebSocket-Protocol value (":" is not allowed there).
_signer = signing.TimestampSigner(salt=TOKEN_SALT, sep=".")


@dataclass(frozen=True)
class ConnectionUser:
    id: Any
    username: str


@dataclass(frozen=True)
class Admission:
    """What the consumer needs to accept a connection: who it is, and what to echo back."""

    user: ConnectionUser | None
    subprotocol: str | None = None
    refused: bool = False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """AllowedHostsOriginValidator's rule plus REALTIME_ALLOWED_ORIGINS, read at each handshake.

    A handshake without an Origin header is not from a browser (browsers always send one), so
    cross-site WebSocket hijacking cannot apply: it is let through to authentication. Checked
    by the consumer instead of wrapping it in OriginValidator, whose frame would stay alive as
    long as each connection (README, Performance: idle memory).
    """
    origin = next((value for name, value in scope.get("headers", []) if name == b"origin"), None)
    if origin is None:
        return True
    allowed = [*settings.ALLOWED_HOSTS, *settings.REALTIME_ALLOWED_ORIGINS]
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        allowed += ["localhost", "127.0.0.1", "[::1]"]
    return bool(OriginValidator(None, allowed).valid_origin(urlparse(origin.decode("latin1"))))


def token_issue(user: Any) -> str:
    return _signer.sign_object({"id": user.pk, "name": user.get_username()})


def token_user(token: str) -> ConnectionUser | None:
    """The user a token was issued to, or None when it is forged, malformed or expired."""
    try:
        claims = _signer.unsign_object(token, max_age=settings.REALTIME_TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError):
        return None
    return ConnectionUser(claims["id"], claims["name"])


async def connection_admit(scope: dict[str, Any]) -> Admission:
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
        user = token_user(token)
        return Admission(user, subprotocol, refused=user is None)
    user = await session_user(scope)
    return Admission(user, refused=user is None and settings.REALTIME_REQUIRE_AUTH)


async def session_user(scope: dict[str, Any]) -> ConnectionUser | None:
    """The user of the handshake's session cookie, if any.

    Read once here rather than with AuthMiddlewareStack, whose session wrapper would sit on
    every frame this connection is sent (it showed as 7% of a busy pod in py-spy).
    """
    cookies = parse_cookie(
        b"; ".join(value for name, value in scope.get("headers", []) if name == b"cookie").decode(
            "latin1"
        )
    )
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user = await get_user({"session": session})
    return ConnectionUser(user.pk, user.get_username()) if user.is_authenticated else None
