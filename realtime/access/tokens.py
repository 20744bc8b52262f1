"""Tokens for clients without cookies (mobile apps, services): signed by Django, or JWTs minted
by another backend (the Node API) with a key the pods know."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jwt
from django.core import signing

from realtime.access.grants import room_grants_of, room_grants_parse
from realtime.access.users import ConnectionUser
from realtime.config import JwtConfig, RealtimeConfig

TOKEN_SALT = "murror.realtime.token"
TOKEN_SUBPROTOCOL_PREFIX = "murror.token."


def _signer() -> signing.TimestampSigner:
    """Made per use: it reads SECRET_KEY and SECRET_KEY_FALLBACKS (rotation) when made. "." keeps
    the token a valid Sec-WebSocket-Protocol value (":" is not allowed there)."""
    return signing.TimestampSigner(salt=TOKEN_SALT, sep=".")


def token_for(user: Any, rooms: Iterable[str] | None = None) -> str:
    """A token for a Django user; with `rooms` (names or `*` patterns) it may use only those."""
    claims: dict[str, Any] = {"id": user.pk, "name": user.get_username()}
    grants = room_grants_of(rooms)
    if grants is not None:
        claims["rooms"] = grants
    return _signer().sign_object(claims)


def token_user(token: str, config: RealtimeConfig) -> ConnectionUser | None:
    """Who a token is for, or None when it is forged, malformed or expired: a Django-signed
    token, else, when REALTIME_JWT_KEY is set, a JWT."""
    user = _signed_token_user(token, config.token_max_age)
    if user is None and config.jwt is not None:
        user = jwt_user(token, config.jwt)
    return user


def _signed_token_user(token: str, max_age: int) -> ConnectionUser | None:
    try:
        claims = _signer().unsign_object(token, max_age=max_age)
        return ConnectionUser(claims["id"], claims["name"], room_grants_parse(claims.get("rooms")))
    except (signing.BadSignature, ValueError, TypeError, KeyError):
        return None


def jwt_user(token: str, config: JwtConfig) -> ConnectionUser | None:
    """The subject of a JWT signed with the configured key, unexpired (`exp` is required), for
    the configured audience; None otherwise."""
    try:
        claims = jwt.decode(
            token,
            config.key,
            algorithms=list(config.algorithms),
            audience=config.audience,
            options={"require": ["exp", "sub"]},
        )
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            return None
        return ConnectionUser(
            subject, subject, room_grants_parse(claims.get("rooms")), from_jwt=True
        )
    except (jwt.PyJWTError, ValueError):
        return None
