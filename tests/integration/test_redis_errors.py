"""Each way Redis can fail, against real servers, gives the documented error text and a solution."""

from __future__ import annotations

import pytest

from realtime.redis.errors import RedisUnavailable
from realtime.redis.probe import layer_roundtrip, redis_connected, redis_subscribed
from realtime.redis.url import redis_target_parse
from tests.conftest import ACL_PASSWORD, ACL_USER
from tests.support.servers import free_port


async def failure_of(url: str, timeout: float = 2) -> RedisUnavailable:
    with pytest.raises(RedisUnavailable) as raised:
        async with redis_connected(redis_target_parse(url), timeout):
            pass
    return raised.value


async def test_refused() -> None:
    port = free_port()
    error = await failure_of(f"redis://127.0.0.1:{port}")
    assert error.problem.error == f"Error: connect ECONNREFUSED 127.0.0.1:{port}"
    assert error.problem.solution.startswith("Solution: ")


async def test_unknown_host() -> None:
    error = await failure_of("redis://murror-test.invalid:6379")
    assert error.problem.error == "Error: getaddrinfo ENOTFOUND murror-test.invalid"


async def test_timeout(silent_server: tuple[str, int]) -> None:
    host, port = silent_server
    error = await failure_of(f"redis://:pw@{host}:{port}", timeout=0.5)
    assert error.problem.error == f"Error: connect ETIMEDOUT {host}:{port}"


async def test_noauth(redis_with_password) -> None:
    error = await failure_of(f"redis://127.0.0.1:{redis_with_password.port}")
    assert error.problem.error == "Error: NOAUTH Authentication required"


async def test_wrongpass(redis_with_password) -> None:
    error = await failure_of(redis_with_password.url(password="not-it"))
    assert error.problem.error == (
        "Error: WRONGPASS invalid username-password pair or user is disabled."
    )


async def test_wrongpass_for_acl_user(redis_with_acl_user) -> None:
    error = await failure_of(redis_with_acl_user.url(username=ACL_USER, password="not-it"))
    assert error.problem.error.startswith("Error: WRONGPASS")


async def test_password_with_escaped_characters_connects(redis_with_password) -> None:
    url = redis_with_password.url(db=1)
    assert "%40" in url  # the password's "@" travels URL-escaped and is unescaped for Redis
    async with redis_connected(redis_target_parse(url), 2) as client:
        assert await client.ping()


async def test_acl_user_connects_subscribes_and_round_trips(redis_with_acl_user) -> None:
    target = redis_target_parse(redis_with_acl_user.url(username=ACL_USER, password=ACL_PASSWORD))
    async with redis_connected(target, 2) as client:
        assert await client.acl_whoami() in (ACL_USER, ACL_USER.encode())
    async with redis_subscribed(target, 2) as pubsub:
        assert pubsub.subscribed
    assert 0 < await layer_roundtrip(target, 5) < 5


async def test_problem_texts_never_carry_the_password(redis_with_password) -> None:
    for url in (
        redis_with_password.url(password="Wr0ngSecret"),
        f"redis://:Wr0ngSecret@127.0.0.1:{free_port()}",
        "redis://:Wr0ngSecret@murror-test.invalid",
    ):
        problem = (await failure_of(url)).problem
        assert "Wr0ngSecret" not in problem.error + problem.solution


async def test_plain_client_on_a_tls_port_is_econnreset(redis_with_tls) -> None:
    url = redis_with_tls.url().replace("rediss://", "redis://")
    error = await failure_of(url)
    assert error.problem.error == f"Error: read ECONNRESET 127.0.0.1:{redis_with_tls.port}"
    assert "rediss://" in error.problem.solution


async def test_layer_roundtrip_fails_with_the_layer_error_not_a_timeout(redis_factory) -> None:
    """channels_redis logs a denied SUBSCRIBE and retries forever; the round trip reports it
    at once (a 30 s timeout would give ETIMEDOUT, and hold the test for 30 s)."""
    server = redis_factory(args=["--user", "app", "on", ">pw", "~*", "&*", "+@all", "-subscribe"])
    target = redis_target_parse(server.url(username="app", password="pw"))
    with pytest.raises(RedisUnavailable) as raised:
        await layer_roundtrip(target, 30)
    assert raised.value.problem.error == (
        "Error: NOPERM this user has no permissions to run the 'subscribe' command"
    )
