"""Who may connect, through the /ws/ consumer in this process: origins, session users, signed
tokens, REALTIME_REQUIRE_AUTH."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from murror.asgi import application
from realtime.access.tokens import TOKEN_SUBPROTOCOL_PREFIX, token_for
from realtime.protocols.closecodes import CloseCode

UNAUTHORIZED = CloseCode.UNAUTHORIZED

pytestmark = pytest.mark.usefixtures("in_process_pod")


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", password="alice-password")


def communicator(path: str = "/ws/", **kwargs) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, **kwargs)


async def welcome_of(connection: WebsocketCommunicator) -> dict:
    connected, subprotocol = await connection.connect(timeout=5)
    assert connected
    return json.loads(await connection.receive_from(timeout=5)) | {"_subprotocol": subprotocol}


async def close_code_of(connection: WebsocketCommunicator) -> int:
    connected, _ = await connection.connect(timeout=5)
    assert connected  # accepted first, so that a browser sees the close code
    message = await connection.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://api.example.com", True),
        ("https://ws.example.com", True),
        ("https://app.partner.io", True),
        ("https://evil.example.net", False),
        ("null", False),
        (None, True),  # not a browser: no cross-site hijacking; authentication decides
    ],
)
@pytest.mark.django_db  # Channels' WebsocketDenier closes stale DB connections on its way out
async def test_origins(settings, origin: str | None, allowed: bool) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com", ".example.com"]
    settings.REALTIME_ALLOWED_ORIGINS = ["https://app.partner.io"]
    headers = [(b"origin", origin.encode())] if origin else []
    connection = communicator(headers=headers)
    connected, _ = await connection.connect(timeout=5)
    assert connected is allowed
    await connection.disconnect()


async def test_anonymous_welcome_has_no_user() -> None:
    connection = communicator()
    assert "user" not in await welcome_of(connection)
    await connection.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_token_from_the_http_endpoint_works_as_query_and_subprotocol(alice) -> None:
    http = Client()
    assert (await sync_to_async(http.get)("/realtime/token")).status_code == 401
    await sync_to_async(http.force_login)(alice)
    response = await sync_to_async(http.get)("/realtime/token")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    issued = response.json()
    assert issued["subprotocol"] == TOKEN_SUBPROTOCOL_PREFIX + issued["token"]

    by_query = communicator(f"/ws/?token={issued['token']}")
    assert (await welcome_of(by_query))["user"] == "alice"
    await by_query.disconnect()
    by_subprotocol = communicator(subprotocols=[issued["subprotocol"]])
    welcome = await welcome_of(by_subprotocol)
    assert (welcome["user"], welcome["_subprotocol"]) == ("alice", issued["subprotocol"])
    await by_subprotocol.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_forged_or_expired_tokens_are_closed_with_4401(settings, alice) -> None:
    token = await sync_to_async(token_for)(alice)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert await close_code_of(communicator(f"/ws/?token={forged}")) == UNAUTHORIZED
    assert await close_code_of(communicator("/ws/?token=not-a-token")) == UNAUTHORIZED


@pytest.mark.django_db(transaction=True)
async def test_an_expired_token_is_closed_with_4401(settings, alice) -> None:
    settings.REALTIME_TOKEN_MAX_AGE = -1
    token = await sync_to_async(token_for)(alice)
    assert await close_code_of(communicator(f"/ws/?token={token}")) == UNAUTHORIZED


@pytest.mark.django_db(transaction=True)
async def test_require_auth_closes_anonymous_and_admits_session_users(settings, alice) -> None:
    settings.REALTIME_REQUIRE_AUTH = True
    assert await close_code_of(communicator()) == UNAUTHORIZED
    http = Client()
    await sync_to_async(http.force_login)(alice)
    cookie = f"sessionid={http.cookies['sessionid'].value}".encode()
    by_session = communicator(headers=[(b"cookie", cookie)])
    assert (await welcome_of(by_session))["user"] == "alice"
    await by_session.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_token_stops_working_when_its_user_is_deactivated_or_deleted(alice) -> None:
    token = await sync_to_async(token_for)(alice)
    assert (await welcome_of(communicator(f"/ws/?token={token}")))["user"] == "alice"
    alice.is_active = False
    await alice.asave()
    assert await close_code_of(communicator(f"/ws/?token={token}")) == UNAUTHORIZED
    await alice.adelete()
    assert await close_code_of(communicator(f"/ws/?token={token}")) == UNAUTHORIZED
