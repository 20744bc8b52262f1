"""Sessions across pods: with one PostgreSQL database for every pod (DATABASE_URL), a user who
logged in through one pod opens a WebSocket on another with that session; with each pod's own
SQLite, the other pod does not know the session. Uses the PostgreSQL server on
127.0.0.1:5432 that this machine (and its CI) runs, with a database of the test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.admin_login import session_cookie_from_login
from tests.support.servers import DaphnePod, manage_py_ok, pods_serving
from tests.support.ws_client import WsClient

SERVER = "postgres://postgres@127.0.0.1:5432"
USER, PASSWORD = "alice", "a long passphrase for alice"


@pytest.fixture
def database_url() -> Iterator[str]:
    name = f"murror_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise AssertionError(f"these tests need PostgreSQL on 127.0.0.1:5432: {error}") from error
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def test_a_session_from_one_pod_is_known_on_another(tmp_path, database_url) -> None:
    env = {"DATABASE_URL": database_url, "CSRF_TRUSTED_ORIGINS": "http://localhost"}
    manage_py_ok(tmp_path, env, "migrate", "--noinput")
    staff = f"User.objects.create_user({USER!r}, password={PASSWORD!r}, is_staff=True)"
    manage_py_ok(
        tmp_path, env, "shell", "-c", f"from django.contrib.auth.models import User; {staff}"
    )
    with pods_serving(tmp_path, env, ["db-1", "db-2"]) as (first, second):
        session = await session_cookie_from_login(first, USER, PASSWORD)
        cookie = {"Cookie": f"sessionid={session}"}
        client = await WsClient.connect(second.ws_url, headers=cookie)
        assert client.welcome["user"] == USER
        await client.close()

        # The same cookie on a pod with a database of its own: an anonymous connection.
        alone = DaphnePod(tmp_path / "alone", {}, name="alone")
        (tmp_path / "alone").mkdir()
        alone.start().wait_listening()
        try:
            manage_py_ok(tmp_path / "alone", {"DATABASE_URL": alone.env["DATABASE_URL"]}, "migrate")
            stranger = await WsClient.connect(alone.ws_url, headers=cookie)
            assert "user" not in stranger.welcome
            await stranger.close()
        finally:
            await asyncio.to_thread(alone.stop)
