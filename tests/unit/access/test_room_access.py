"""Room access through the /ws/ consumer in this process: REALTIME_ROOM_AUTHORIZER (plain and
async) and the room grants of tokens, for join, emit and members; `forbidden` with the id."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

from murror.asgi import application
from realtime.access.rooms import room_authorizer
from realtime.access.tokens import token_for

pytestmark = [pytest.mark.usefixtures("in_process_pod"), pytest.mark.django_db(transaction=True)]

EXAMPLE = "tests.support.authorizers_example"
JWT_SECRET = "the Node API's HS256 secret for the pods, at least 32 bytes long"


async def connected(path: str = "/ws/") -> WebsocketCommunicator:
    connection = WebsocketCommunicator(application, path)
    accepted, _ = await connection.connect(timeout=5)
    assert accepted
    assert json.loads(await connection.receive_from(timeout=5))["type"] == "welcome"
    return connection


async def ask(connection: WebsocketCommunicator, frame: dict) -> dict:
    await connection.send_to(json.dumps(frame))
    return json.loads(await connection.receive_from(timeout=5))


def forbidden(action: str, room: str, message_id: int) -> dict:
    return {
        "type": "error",
        "code": "forbidden",
        "message": f"not allowed to {action} in room {room!r}",
        "id": message_id,
    }


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", password="alice-password")


@pytest.mark.parametrize(
    "authorizer", ["user_rooms_are_their_users", "user_rooms_are_their_users_async"]
)
async def test_the_authorizer_decides_join_emit_and_members(settings, alice, authorizer) -> None:
    settings.REALTIME_ROOM_AUTHORIZER = f"{EXAMPLE}.{authorizer}"
    own, other = f"user.{alice.pk}", f"user.{alice.pk + 1}"
    client = await connected(f"/ws/?token={await sync_to_async(token_for)(alice)}")
    assert await ask(client, {"type": "join", "room": own, "id": 1}) == {
        "type": "joined",
        "room": own,
        "id": 1,
    }
    assert await ask(client, {"type": "join", "room": other, "id": 2}) == forbidden(
        "join", other, 2
    )
    assert await ask(client, {"type": "members", "room": other, "id": 3}) == forbidden(
        "members", other, 3
    )
    assert (await ask(client, {"type": "members", "room": own, "id": 4}))["count"] == 1
    assert await ask(client, {"type": "join", "room": "staff.news", "id": 5}) == {
        "type": "joined",
        "room": "staff.news",
        "id": 5,
    }
    emit = {"type": "emit", "room": "staff.news", "event": "e", "data": 1, "id": 6}
    assert await ask(client, emit) == forbidden("emit", "staff.news", 6)
    await client.disconnect()

    anonymous = await connected()
    assert await ask(anonymous, {"type": "join", "room": own, "id": 1}) == forbidden("join", own, 1)
    assert (await ask(anonymous, {"type": "join", "room": "lobby", "id": 2}))["type"] == "joined"
    await anonymous.disconnect()


async def test_an_authorizer_that_raises_refuses_and_is_logged(settings, caplog) -> None:
    settings.REALTIME_ROOM_AUTHORIZER = f"{EXAMPLE}.broken"
    client = await connected()
    assert await ask(client, {"type": "join", "room": "lobby", "id": 1}) == forbidden(
        "join", "lobby", 1
    )
    assert "REALTIME_ROOM_AUTHORIZER raised for join in 'lobby': refused" in caplog.text
    assert (await ask(client, {"type": "ping", "id": 2}))["type"] == "pong"  # still open
    await client.disconnect()


async def test_a_wrong_authorizer_path_says_which() -> None:
    with pytest.raises(ImproperlyConfigured, match="REALTIME_ROOM_AUTHORIZER names 'no"):
        room_authorizer("no.such.function")


async def test_a_tokens_room_grants_on_top_of_the_authorizer(settings, alice) -> None:
    settings.REALTIME_ROOM_AUTHORIZER = f"{EXAMPLE}.user_rooms_are_their_users"
    token = await sync_to_async(token_for)(alice, rooms=["chat.*", f"user.{alice.pk + 1}"])
    client = await connected(f"/ws/?token={token}")
    assert (await ask(client, {"type": "join", "room": "chat.9", "id": 1}))["type"] == "joined"
    assert await ask(client, {"type": "join", "room": "lobby", "id": 2}) == forbidden(
        "join", "lobby", 2
    )
    # Granted by the token, refused by the authorizer: both must allow.
    other = f"user.{alice.pk + 1}"
    assert await ask(client, {"type": "join", "room": other, "id": 3}) == forbidden(
        "join", other, 3
    )
    await client.disconnect()


async def test_a_jwts_room_grants(settings) -> None:
    settings.REALTIME_JWT_KEY = JWT_SECRET
    claims = {"sub": "42", "exp": int(time.time()) + 60, "rooms": ["order.9931", "user.42"]}
    client = await connected(f"/ws/?token={jwt.encode(claims, JWT_SECRET, algorithm='HS256')}")
    assert (await ask(client, {"type": "join", "room": "user.42", "id": 1}))["type"] == "joined"
    emit = {"type": "emit", "room": "user.42", "event": "e", "data": 1, "id": 2}
    assert (await ask(client, emit))["type"] == "event"
    assert json.loads(await client.receive_from(timeout=5)) == {"type": "ack", "id": 2}
    assert await ask(client, {"type": "join", "room": "order.1", "id": 3}) == forbidden(
        "join", "order.1", 3
    )
    await client.disconnect()
