"""realtime.redis.errors: the topology errors, and what a Sentinel failure turns into."""

from __future__ import annotations

import pytest
from redis import exceptions as redis_exceptions
from redis.asyncio.sentinel import MasterNotFoundError

from realtime.redis.errors import redis_error_is_read_only, redis_problem_classify
from realtime.redis.url import redis_target_parse

SENTINELS = "redis+sentinel://:data-pw@s1:26379,s2:26380/murror"
# What redis-py 8.1 puts in MasterNotFoundError: each sentinel's client, then its error's kind.
SENTINEL_CLIENT = "<redis.asyncio.client.Redis(<...(host=s1,port=26379)>)>"


def sentinels_failed(*kinds: str) -> MasterNotFoundError:
    errors = ", ".join(f"{SENTINEL_CLIENT} - {kind}" for kind in kinds)
    return MasterNotFoundError(f"No master found for 'murror' : {errors}" if kinds else "No master")


def test_a_write_on_a_replica_is_the_replica_error() -> None:
    error = redis_exceptions.ReadOnlyError("You can't write against a read only replica.")
    problem = redis_problem_classify(error, redis_target_parse("redis://h:1"))
    assert problem.error == "Error: REDIS_URL points at a read-only replica"
    assert problem.solution.startswith("Solution: point REDIS_URL at the primary")
    assert redis_error_is_read_only(RuntimeError("wrapped")) is False
    try:
        raise RuntimeError("a script failed") from error
    except RuntimeError as wrapped:
        assert redis_error_is_read_only(wrapped)


def test_moved_at_a_plain_url_is_the_cluster_node_error() -> None:
    problem = redis_problem_classify(
        redis_exceptions.MovedError("3999 127.0.0.1:7001"), redis_target_parse("redis://h:1")
    )
    assert problem.error == "Error: REDIS_URL points at a Redis Cluster node"
    assert "redis+cluster://" in problem.solution


@pytest.mark.parametrize(
    ("sentinel_password", "kinds", "error"),
    [
        ("wrong", ["auth:AuthenticationError"] * 2, "Error: WRONGPASS the sentinels at s1:26379"),
        (None, ["auth:AuthenticationError"], "Error: NOAUTH the sentinels at s1:26379,s2:26380"),
        (None, ["network:ConnectionError"] * 2, "Error: connect ECONNREFUSED s1:26379,s2:26380"),
        (None, ["timeout:TimeoutError"] * 2, "Error: connect ETIMEDOUT s1:26379,s2:26380"),
        (None, [], "Error: no sentinel at s1:26379,s2:26380 knows a master named murror"),
    ],
)
def test_sentinel_failures(sentinel_password, kinds, error) -> None:
    target = redis_target_parse(SENTINELS, sentinel_password=sentinel_password)
    problem = redis_problem_classify(sentinels_failed(*kinds), target)
    assert problem.error.startswith(error)
    assert problem.solution.startswith("Solution: ")
    assert "data-pw" not in problem.error + problem.solution
