"""RedisClusterChannelLayer on a real Redis Cluster: the Channels layer contract as channels'
own tests check it for the in-memory and channels_redis layers, groups on several shards, and
delivery coming back by itself after a master is killed or demoted."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from realtime.redis.cluster_layer import RedisClusterChannelLayer
from tests.support.redis_cluster import RedisClusterServers

RECEIVE_TIMEOUT = 2
FAILOVER_RECOVERY = 10  # SPEC, "Redis topologies and failover"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path_factory.mktemp("cluster"), masters=3).start()
    yield servers
    servers.stop()


@pytest.fixture
def replicated_cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    """3 masters and a replica each, with a password: a cluster per failover test, as Redis 7.0
    may leave a shard without a master when it fails over again seconds after the last time
    (tests/support/redis_cluster.py)."""
    workdir = tmp_path / "cluster-replicated"
    servers = RedisClusterServers(workdir, masters=3, replicas=1, password="cluster pw").start()
    yield servers
    servers.stop()


def layer_of(cluster: RedisClusterServers, **options: Any) -> RedisClusterChannelLayer:
    return RedisClusterChannelLayer(cluster.nodes, password=cluster.password, **options)


@pytest.fixture
async def layer(cluster: RedisClusterServers) -> AsyncIterator[RedisClusterChannelLayer]:
    layer = layer_of(cluster)
    yield layer
    await layer.flush()


@pytest.fixture
async def other_layer(cluster: RedisClusterServers) -> AsyncIterator[RedisClusterChannelLayer]:
    """The layer of another pod: its own cluster client and subscriptions."""
    layer = layer_of(cluster)
    yield layer
    await layer.flush()


async def receive(layer: RedisClusterChannelLayer, channel: str) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        return await layer.receive(channel)


async def nothing_for(layer: RedisClusterChannelLayer, channel: str) -> bool:
    """True when nothing is queued for `channel`; only meaningful once a message sent after the
    one that must not arrive has been received in the same process."""
    try:
        async with asyncio.timeout(0.2):
            await layer.receive(channel)
    except TimeoutError:
        return True
    return False


@contextlib.asynccontextmanager
async def inbox_of(
    layer: RedisClusterChannelLayer, channel: str
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """What `channel` receives, read by one receive() all along: a cancelled receive()
    unsubscribes the channel."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        while True:
            inbox.put_nowait(await layer.receive(channel))

    pumping = asyncio.create_task(pump())
    try:
        yield inbox
    finally:
        pumping.cancel()
        await asyncio.wait([pumping])


async def sent_until_received(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    inbox: asyncio.Queue[dict[str, Any]],
    within: float,
) -> float:
    """send() a probe every 0.1 s until the inbox gets one; seconds it took. A send that fails
    while the slot has no master is tried again; fails after `within`."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while True:
                # The write path is redis-py's: it errs until a replica is promoted.
                with contextlib.suppress(Exception):
                    await send({"type": "probe"})
                try:
                    async with asyncio.timeout(0.1):
                        assert (await inbox.get())["type"] == "probe"
                    return time.monotonic() - started
                except TimeoutError:
                    continue
    except TimeoutError:
        raise AssertionError(f"nothing sent reached the receiver within {within}s") from None


async def test_send_receive(layer: RedisClusterChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "test.message", "text": "Ahoy-hoy!"})
    assert await receive(layer, channel) == {"type": "test.message", "text": "Ahoy-hoy!"}


async def test_messages_of_one_channel_keep_their_order(layer: RedisClusterChannelLayer) -> None:
    channel = await layer.new_channel()
    for n in range(1, 4):
        await layer.send(channel, {"type": f"message.{n}"})
    assert [(await receive(layer, channel))["type"] for _ in range(3)] == [
        "message.1",
        "message.2",
        "message.3",
    ]


async def test_values_round_trip(layer: RedisClusterChannelLayer) -> None:
    channel = await layer.new_channel()
    message = {
        "type": "values",
        "bytes": b"\x00\xff binary",
        "numbers": [0, -1, 2**40, 1.5],
        "flags": [True, False, None],
        "nested": {"list": [{"deep": ["é", "雪", ""]}], "empty": {}},
    }
    await layer.send(channel, message)
    assert await receive(layer, channel) == message


async def test_new_channel_names_are_unique_and_prefixed(layer: RedisClusterChannelLayer) -> None:
    random.seed(1)
    first = await layer.new_channel("pod.")
    random.seed(1)
    second = await layer.new_channel("pod.")
    assert first != second
    assert first.startswith("pod.") and second.startswith("pod.")
    assert (await layer.new_channel()).startswith("specific.")


async def test_group_send_reaches_every_channel_of_the_group_on_both_pods(
    layer: RedisClusterChannelLayer, other_layer: RedisClusterChannelLayer
) -> None:
    here = [await layer.new_channel("pod-a.") for _ in range(2)]
    there = await other_layer.new_channel("pod-b.")
    for channel in here:
        await layer.group_add("room.lobby", channel)
    await other_layer.group_add("room.lobby", there)

    await other_layer.group_send("room.lobby", {"type": "from.b"})
    await layer.group_send("room.lobby", {"type": "from.a"})

    for pod, channel in [(layer, here[0]), (layer, here[1]), (other_layer, there)]:
        received = {(await receive(pod, channel))["type"] for _ in range(2)}
        assert received == {"from.a", "from.b"}, channel


async def test_group_discard(
    cluster: RedisClusterServers,
    layer: RedisClusterChannelLayer,
    other_layer: RedisClusterChannelLayer,
) -> None:
    staying, leaving = await layer.new_channel(), await layer.new_channel()
    elsewhere = await other_layer.new_channel()
    for channel in (staying, leaving):
        await layer.group_add("room.discard", channel)
    await other_layer.group_add("room.discard", elsewhere)
    key = layer.group_key("room.discard")
    assert cluster.shard_subscribers(key) == 2  # one connection per pod

    await layer.group_discard("room.discard", leaving)
    await layer.group_discard("room.discard", "never.added")  # nothing to do, no error
    await other_layer.group_discard("room.discard", elsewhere)
    assert cluster.shard_subscribers(key) == 1  # the other pod left the shard channel
    await layer.group_send("room.discard", {"type": "after.discard"})

    assert (await receive(layer, staying))["type"] == "after.discard"
    # The same connection carried it to both channels of this pod, so it would be queued now.
    assert await nothing_for(layer, leaving)


async def test_receive_on_a_channel_this_layer_did_not_make(
    layer: RedisClusterChannelLayer, other_layer: RedisClusterChannelLayer
) -> None:
    """receive() subscribes on demand, to a name from another pod or a general one."""
    made_elsewhere = await layer.new_channel("pod-a.")
    for channel in (made_elsewhere, "general-channel"):
        async with inbox_of(other_layer, channel) as inbox:
            await sent_until_received(partial(layer.send, channel), inbox, RECEIVE_TIMEOUT)


async def test_cancelled_receive_unsubscribes(
    cluster: RedisClusterServers, layer: RedisClusterChannelLayer
) -> None:
    channel = await layer.new_channel()
    assert cluster.shard_subscribers(layer.channel_key(channel)) == 1
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await layer.receive(channel)
    assert cluster.shard_subscribers(layer.channel_key(channel)) == 0


async def test_names_are_validated(layer: RedisClusterChannelLayer) -> None:
    channel = await layer.new_channel()
    for bad in ("with space", "x" * 100, "pound£", 17):
        with pytest.raises(TypeError):
            await layer.send(bad, {"type": "x"})  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await layer.group_add(bad, channel)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await layer.group_send(bad, {"type": "x"})  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await layer.group_discard(bad, channel)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await layer.receive(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await layer.new_channel("bad prefix ")
    with pytest.raises(RuntimeError, match="channel of this process"):
        await layer.group_add("room.ok", "not.made.here")


async def test_flush_forgets_everything_and_the_layer_stays_usable(
    cluster: RedisClusterServers, layer: RedisClusterChannelLayer
) -> None:
    channel = await layer.new_channel()
    await layer.group_add("room.flushed", channel)
    await layer.flush()
    assert cluster.shard_subscribers(layer.group_key("room.flushed")) == 0
    assert cluster.shard_subscribers(layer.channel_key(channel)) == 0

    fresh = await layer.new_channel()
    await layer.send(fresh, {"type": "after.flush"})
    assert (await receive(layer, fresh))["type"] == "after.flush"


def test_a_loop_that_closes_closes_its_connections(cluster: RedisClusterServers) -> None:
    """async_to_sync runs each call in a loop of its own: none may leave subscriptions behind."""
    layer = RedisClusterChannelLayer(cluster.nodes)

    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add("room.sync", channel)
        return channel

    channel = async_to_sync(join)()
    assert cluster.shard_subscribers(layer.group_key("room.sync")) == 0
    assert cluster.shard_subscribers(layer.channel_key(channel)) == 0


async def test_groups_on_every_shard(
    cluster: RedisClusterServers,
    layer: RedisClusterChannelLayer,
    other_layer: RedisClusterChannelLayer,
) -> None:
    groups = [f"room.shard-{n}" for n in range(12)]
    masters = {cluster.master_for_key(layer.group_key(group)) for group in groups}
    assert len(masters) == 3, "the groups should cover every master"
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    for group in groups:
        await other_layer.group_send(group, {"type": "shard", "group": group})
    received = {(await receive(layer, channel))["group"] for _ in groups}
    assert received == set(groups)


async def test_partitions_deliver_only_the_groups_of_the_process(
    cluster: RedisClusterServers,
) -> None:
    layer, other = layer_of(cluster, partitions=4), layer_of(cluster, partitions=4)
    try:
        joined = "room.joined"
        sharing = next(
            f"room.other-{n}"
            for n in range(100)
            if layer.group_key(f"room.other-{n}") == layer.group_key(joined)
        )
        assert layer.group_key(joined).startswith(b"murror:{p")
        channel = await layer.new_channel()
        await layer.group_add(joined, channel)
        await other.group_send(sharing, {"type": "not.for.us"})
        await other.group_send(joined, {"type": "for.us"})
        assert (await receive(layer, channel))["type"] == "for.us"
        assert await nothing_for(layer, channel)
    finally:
        await layer.flush()
        await other.flush()


@contextlib.asynccontextmanager
async def two_pods_in_a_group(
    cluster: RedisClusterServers,
) -> AsyncIterator[tuple[RedisClusterChannelLayer, str, asyncio.Queue[dict[str, Any]], int]]:
    """The sending pod, a group the receiving pod joined, the inbox of its channel, and the
    master that owns the group."""
    receiver, sender = layer_of(cluster), layer_of(cluster)
    try:
        channel = await receiver.new_channel("pod.")
        group = "room.failover"
        await receiver.group_add(group, channel)
        async with inbox_of(receiver, channel) as inbox:
            await sent_until_received(partial(sender.group_send, group), inbox, RECEIVE_TIMEOUT)
            yield sender, group, inbox, cluster.master_for_key(receiver.group_key(group))
    finally:
        await receiver.flush()
        await sender.flush()


async def test_delivery_comes_back_after_the_master_is_killed(
    replicated_cluster: RedisClusterServers,
) -> None:
    cluster = replicated_cluster
    async with two_pods_in_a_group(cluster) as (sender, group, inbox, master):
        cluster.kill(master)
        took = await sent_until_received(
            partial(sender.group_send, group), inbox, FAILOVER_RECOVERY
        )
        assert cluster.master_for_key(sender.group_key(group)) != master
        print(f"delivery back {took:.1f} s after the master was killed")


async def test_delivery_comes_back_after_the_master_is_demoted(
    replicated_cluster: RedisClusterServers,
) -> None:
    """CLUSTER FAILOVER: the old master stays up as a replica and drops our SSUBSCRIBE.

    The SPEC's 10 s count from when Redis reports the replica promoted: before that nothing has
    failed (the old master only pauses writes while its replica catches up)."""
    cluster = replicated_cluster
    async with two_pods_in_a_group(cluster) as (sender, group, inbox, master):
        await asyncio.to_thread(cluster.failover, master)
        await sent_until_received(partial(sender.group_send, group), inbox, FAILOVER_RECOVERY)
        assert cluster.shard_subscribers(sender.group_key(group)) == 1


async def test_the_pod_channel_follows_its_master(replicated_cluster: RedisClusterServers) -> None:
    cluster = replicated_cluster
    receiver, sender = layer_of(cluster), layer_of(cluster)
    try:
        channel = await receiver.new_channel("pod.")
        master = cluster.master_for_key(receiver.channel_key(channel))
        async with inbox_of(receiver, channel) as inbox:
            cluster.kill(master)
            await sent_until_received(partial(sender.send, channel), inbox, FAILOVER_RECOVERY)
    finally:
        await receiver.flush()
        await sender.flush()
