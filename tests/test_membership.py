"""Cross-pod member counts in a real Redis: sums, dead pods, and Redis coming back empty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from realtime.membership import RedisMembership
from realtime.redis_probe import redis_client
from realtime.redis_url import redis_target_parse


@pytest.fixture
async def redis(redis_factory) -> AsyncIterator:
    server = redis_factory(password="pw")
    client = redis_client(redis_target_parse(server.url()), 2)
    yield client
    await client.aclose()


def pod(client, name: str, counts: dict[str, int], timeout: int = 30) -> RedisMembership:
    return RedisMembership(
        client, name, lambda: counts, heartbeat_seconds=0.1, pod_timeout_seconds=timeout
    )


async def test_counts_add_up_over_pods(redis) -> None:
    a_counts, b_counts = {"r": 2}, {"r": 3, "other": 1}
    a, b = pod(redis, "a", a_counts), pod(redis, "b", b_counts)
    await a.beat()
    await b.beat()
    for membership, counts in ((a, a_counts), (b, b_counts)):
        for room, count in counts.items():
            await membership.room_count_set(room, count)
    assert await a.room_count("r") == 5
    assert await b.room_count("other") == 1
    await b.room_count_set("r", 0)
    assert await a.room_count("r") == 2
    assert await a.room_count("empty") == 0


async def test_a_pod_that_stops_beating_stops_counting(redis) -> None:
    alive, dead = pod(redis, "alive", {"r": 1}, timeout=1), pod(redis, "dead", {"r": 4}, timeout=1)
    for membership in (alive, dead):
        await membership.beat()
        await membership.room_count_set("r", 1 if membership is alive else 4)
    assert await alive.room_count("r") == 5
    await alive.start()  # only the live pod keeps beating
    async with asyncio.timeout(10):
        while await alive.room_count("r") != 1:
            await asyncio.sleep(0.1)
    assert await redis.hkeys("murror:room:r:members") in ([b"alive"], [b"alive", b"dead"])
    await alive.stop()


async def test_redis_coming_back_empty_gets_the_counts_again(redis) -> None:
    counts = {"r": 2, "s": 1}
    membership = pod(redis, "a", counts)
    assert await membership.beat() is False  # first registration is not a restore
    await redis.flushall()
    assert await membership.room_count("r") == 0
    assert await membership.beat() is True
    assert await membership.room_count("r") == 2
    assert await membership.room_count("s") == 1


async def test_stop_leaves_every_room_at_once(redis) -> None:
    counts = {"r": 2}
    a, b = pod(redis, "a", counts), pod(redis, "b", {})
    await a.start()
    await b.beat()
    await a.room_count_set("r", 2)
    await a.stop()
    assert await b.room_count("r") == 0
    assert await redis.zscore("murror:pods", "a") is None
