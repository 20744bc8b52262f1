"""Cross-pod member counts in a real Redis: sums, dead pods, and Redis coming back empty."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from realtime.fanout.membership import RedisMembership
from realtime.redis.clients import redis_client
from realtime.redis.keys import PODS_KEY, room_members_key
from realtime.redis.outage import OutageLog
from realtime.redis.url import redis_target_parse
from tests.support.servers import async_wait_for

logger = logging.getLogger(__name__)


@pytest.fixture
async def redis(redis_factory) -> AsyncIterator:
    server = redis_factory(password="pw")
    client = redis_client(redis_target_parse(server.url()), 2)
    yield client
    await client.aclose()


def pod(
    client, name: str, counts: dict[str, int], timeout: int = 30, heartbeat: float = 0.1
) -> RedisMembership:
    return RedisMembership(
        client,
        name,
        lambda: counts,
        heartbeat_seconds=heartbeat,
        pod_timeout_seconds=timeout,
        heartbeats=OutageLog(logger, "heartbeats"),
        writes=OutageLog(logger, "writes"),
    )


async def registered(client, name: str, counts: dict[str, int], timeout: int = 30):
    membership = pod(client, name, counts, timeout)
    await membership.beat()  # the first beat writes every count
    return membership


async def test_a_pod_counts_the_others_not_itself(redis) -> None:
    a_counts, b_counts = {"r": 2}, {"r": 3, "other": 1}
    a = await registered(redis, "a", a_counts)
    b = await registered(redis, "b", b_counts)
    assert await a.others_count("r") == 3
    assert await b.others_count("r") == 2
    assert await a.others_count("other") == 1
    assert await a.others_count("empty") == 0


async def test_changes_are_written_together_and_zero_removes_the_field(redis) -> None:
    counts = {"r": 1}
    a = await registered(redis, "a", counts)
    b = await registered(redis, "b", {})
    await a.start()
    counts.update(r=5, s=2)
    await asyncio.gather(a.room_changed("r"), a.room_changed("s"))
    assert (await b.others_count("r"), await b.others_count("s")) == (5, 2)
    del counts["r"]
    await a.room_changed("r")
    assert await redis.hkeys(room_members_key("r")) == []
    await a.stop()


async def test_a_burst_of_joins_shares_a_few_writes(redis, monkeypatch) -> None:
    counts: dict[str, int] = {}
    a = await registered(redis, "a", counts)
    b = await registered(redis, "b", {})
    pipelines = 0
    real_pipeline = redis.pipeline

    def counted_pipeline(*args, **kwargs):
        nonlocal pipelines
        pipelines += 1
        return real_pipeline(*args, **kwargs)

    await a.start()
    monkeypatch.setattr(redis, "pipeline", counted_pipeline)

    async def join(number: int) -> None:
        counts[f"room{number % 10}"] = counts.get(f"room{number % 10}", 0) + 1
        await a.room_changed(f"room{number % 10}")

    await asyncio.gather(*(join(number) for number in range(500)))
    assert pipelines <= 2  # 500 joins at once: one write (two if one was already under way)
    assert await b.others_count("room3") == 50
    await a.stop()


async def test_a_pod_that_stops_beating_stops_counting(redis) -> None:
    alive = await registered(redis, "alive", {"r": 1}, timeout=1)
    await registered(redis, "dead", {"r": 4}, timeout=1)
    assert await alive.others_count("r") == 4
    await alive.start()  # only the live pod keeps beating

    async def dead_pod_gone() -> bool:
        return await alive.others_count("r") == 0

    await async_wait_for(dead_pod_gone, 10, "the dead pod to stop counting", interval=0.1)
    await alive.stop()


async def test_redis_coming_back_empty_gets_the_counts_again(redis) -> None:
    counts = {"r": 2, "s": 1}
    membership = await registered(redis, "a", counts)
    observer = await registered(redis, "b", {})
    await redis.flushall()
    assert await observer.others_count("r") == 0
    assert await membership.beat() is True
    await observer.beat()
    assert await observer.others_count("r") == 2
    assert await observer.others_count("s") == 1


async def test_stop_leaves_every_room_at_once(redis) -> None:
    a = await registered(redis, "a", {"r": 2})
    b = await registered(redis, "b", {})
    await a.start()
    await a.stop()
    assert await b.others_count("r") == 0
    assert await redis.zscore(PODS_KEY, "a") is None


async def test_joins_during_a_write_do_not_wait_for_a_retry(redis, monkeypatch) -> None:
    """Changes that arrive while a write is under way go out right after it, not after the
    pause that follows a failed write."""
    counts: dict[str, int] = {}
    a = pod(redis, "a", counts, timeout=60, heartbeat=30)
    await a.beat()
    b = await registered(redis, "b", {})
    await a.start()
    # The first write is held in Redis's doorway until the later joins have been noted.
    first_write_started, later_joins_noted = asyncio.Event(), asyncio.Event()
    real_write = a._counts_write

    async def held_write(rooms: set[str]) -> None:
        if not first_write_started.is_set():
            first_write_started.set()
            await later_joins_noted.wait()
        await real_write(rooms)

    monkeypatch.setattr(a, "_counts_write", held_write)

    async def join(room: str) -> None:
        counts[room] = 1
        await a.room_changed(room)

    async with asyncio.timeout(5):  # the pause after a failed write would be 30 s
        first = asyncio.create_task(join("first"))
        await first_write_started.wait()
        later = [asyncio.create_task(join(f"room{number}")) for number in range(20)]
        await asyncio.sleep(0)  # each later join marks its room and waits
        assert a._changed == {f"room{number}" for number in range(20)}
        later_joins_noted.set()
        await asyncio.gather(first, *later)
    assert await b.others_count("first") == 1
    assert await b.others_count("room19") == 1
    await a.stop()


async def script_calls(client) -> int:
    """How many times Redis ran a script (the counting script is the only one run here)."""
    stats = await client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


async def test_counts_are_read_from_redis_at_most_once_per_room_and_window(redis) -> None:
    b_counts = {"r": 3}
    a = RedisMembership(
        redis,
        "a",
        dict,
        heartbeat_seconds=0.1,
        pod_timeout_seconds=30,
        heartbeats=OutageLog(logger, "heartbeats"),
        writes=OutageLog(logger, "writes"),
        count_cache_seconds=0.5,
    )
    b = await registered(redis, "b", b_counts)
    await a.others_count("warm-up")  # redis-py loads the script on its first use
    before = await script_calls(redis)
    # Fifty requests at once, then more within the window: one script, one answer.
    assert await asyncio.gather(*(a.others_count("r") for _ in range(50))) == [3] * 50
    await redis.hset(room_members_key("r"), b.pod_id, 5)  # b's count changes
    assert await a.others_count("r") == 3  # up to half a second old, as documented
    assert await script_calls(redis) - before == 1
    await asyncio.sleep(0.6)  # the wait is what the test is about: past the window
    assert await a.others_count("r") == 5
    assert await script_calls(redis) - before == 2
