"""Signed, expiring tokens for clients without cookies (mobile apps, services)."""

from __future__ import annotations

from typing import Any

from django.core import signing

from realtime.access.users import ConnectionUser

TOKEN_SALT = "murror.realtime.token"
TOKEN_SUBPROTOCOL_PREFIX = "murror.token."
# "." keeps the token a valid Sec-WebSocket-Protocol value (":" is not allowed there).
_signer = signing.TimestampSigner(salt=TOKEN_SALT, sep=".")


def token_issue(user: Any) -> str:
    return _signer.sign_object({"id": user.pk, "name": user.get_username()})


def token_user(token: str, max_age: int) -> ConnectionUser | None:
    """The user a token was issued to, or None when it is forged, malformed or expired."""
    try:
        claims = _signer.unsign_object(token, max_age=max_age)
    except (signing.BadSignature, ValueError):
        return None
    return ConnectionUser(claims["id"], claims["name"])
