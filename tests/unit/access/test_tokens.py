"""Tokens: Django-signed ones with room grants, and JWTs from other backends, verified with
PyJWT (HS256 secrets, RS256 and ES256 public keys)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ImproperlyConfigured

from realtime.access.grants import RoomGrants
from realtime.access.tokens import jwt_user, token_for, token_user
from realtime.config import JwtConfig, jwt_config, realtime_config

SECRET = "a secret the Node API shares with the pods: 64 bytes, for HS256 to HS512"
USER = SimpleNamespace(pk=7, get_username=lambda: "alice")


def claims(**extra: object) -> dict:
    return {"sub": "node-user-42", "exp": int(time.time()) + 60, **extra}


def pem_keys(private_key) -> tuple[bytes, str]:
    private = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_a_django_token_carries_its_room_grants(settings) -> None:
    config = realtime_config()
    plain = token_user(token_for(USER), config)
    assert plain is not None and (plain.id, plain.username, plain.rooms) == (7, "alice", None)
    granted = token_user(token_for(USER, rooms=["chat.*", "user.7"]), config)
    assert granted is not None and granted.rooms == RoomGrants(("chat.*", "user.7"))


def test_a_hs256_jwt_from_another_backend(settings) -> None:
    settings.REALTIME_JWT_KEY = SECRET
    token = jwt.encode(claims(rooms=["chat.*"]), SECRET, algorithm="HS256")
    user = token_user(token, realtime_config())
    assert user is not None
    assert (user.id, user.username, user.rooms) == (
        "node-user-42",
        "node-user-42",
        RoomGrants(("chat.*",)),
    )


@pytest.mark.parametrize(
    ("algorithm", "private_key"),
    [
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_rs256_and_es256_jwts_are_verified_with_a_public_key(
    settings, algorithm: str, private_key
) -> None:
    private, public = pem_keys(private_key)
    # As one environment line: the PEM's newlines written as \n.
    settings.REALTIME_JWT_KEY = public.replace("\n", "\\n")
    settings.REALTIME_JWT_ALGORITHMS = [algorithm]
    config = realtime_config()
    user = token_user(jwt.encode(claims(), private, algorithm=algorithm), config)
    assert user is not None and user.username == "node-user-42"
    # A token signed with HMAC over the public key (the algorithm-confusion attack) is refused.
    forged = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert token_user(forged, config) is None


def test_refused_jwts(settings) -> None:
    settings.REALTIME_JWT_KEY = SECRET
    settings.REALTIME_JWT_AUDIENCE = "murror-realtime"
    config = realtime_config()
    assert config.jwt is not None
    good = claims(aud="murror-realtime")
    assert jwt_user(jwt.encode(good, SECRET, algorithm="HS256"), config.jwt) is not None
    refused = {
        "forged": jwt.encode(good, SECRET.upper(), "HS256"),
        "expired": jwt.encode(good | {"exp": int(time.time()) - 5}, SECRET, "HS256"),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, SECRET, "HS256"),
        "no sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, SECRET, "HS256"),
        "sub not a string": jwt.encode(good | {"sub": 42}, SECRET, "HS256"),
        "wrong audience": jwt.encode(good | {"aud": "another-service"}, SECRET, "HS256"),
        "no audience": jwt.encode(claims(), SECRET, "HS256"),
        "rooms not a list": jwt.encode(good | {"rooms": "chat.*"}, SECRET, "HS256"),
        "algorithm none": jwt.encode(good, None, algorithm="none"),
        "an algorithm not allowed": jwt.encode(good, SECRET, algorithm="HS512"),
        "not a token": "not.a.token",
    }
    for reason, token in refused.items():
        assert jwt_user(token, config.jwt) is None, reason
        assert token_user(token, config) is None, reason


def test_jwts_are_refused_when_no_key_is_set(settings) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert realtime_config().jwt is None
    assert token_user(token, realtime_config()) is None


def test_jwt_settings_are_checked() -> None:
    assert jwt_config("", ["HS256"], "") is None
    with pytest.raises(ImproperlyConfigured, match="none not among"):
        jwt_config(SECRET, ["none"], "")
    with pytest.raises(ImproperlyConfigured, match="none given"):
        jwt_config(SECRET, [], "")
    with pytest.raises(ImproperlyConfigured, match="choose one kind"):
        jwt_config(SECRET, ["HS256", "RS256"], "")
    with pytest.raises(ImproperlyConfigured, match="at least 32 bytes"):
        jwt_config("short", ["HS256"], "")
    config = jwt_config(SECRET, ["HS256"], "aud")
    assert config == JwtConfig(SECRET, ("HS256",), "aud")
    assert SECRET not in repr(config) and SECRET not in repr(realtime_config())


def test_tokens_survive_a_secret_key_rotation_through_the_fallbacks(settings) -> None:
    old_key, new_key = "the old key " * 5, "the new key " * 5
    settings.SECRET_KEY = old_key
    token = token_for(USER)
    settings.SECRET_KEY = new_key
    assert token_user(token, realtime_config()) is None
    settings.SECRET_KEY_FALLBACKS = [old_key]
    user = token_user(token, realtime_config())
    assert user is not None and user.username == "alice"
