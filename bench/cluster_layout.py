"""Which channel layout RedisClusterChannelLayer uses on a Redis Cluster: one shard channel per
group (socket.io's sharded adapter), or groups hashed into a few hash-tagged partition channels
that each receiver filters (Centrifugo).

On its own 3 masters + 3 replicas, for each layout: the time for one process to group_add
GROUPS groups, one at a time as a pod joins its rooms; the time from SIGKILL of the master of
some of them until every group delivers again (and how much of it the promotion took); the
group_send round-trip median; and how many messages a pod in 100 groups reads while each group
gets one event. Prints a markdown table.

    .venv/bin/python bench/cluster_layout.py [--groups 10000] [--partitions 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio.cluster import ClusterNode, RedisCluster

from realtime.redis.cluster_layer import RedisClusterChannelLayer
from realtime.redis.cluster_subscriber import ShardedSubscriber
from tests.support.redis_cluster import RedisClusterServers

ROUND_TRIPS = 500
SMALL_POD_GROUPS = 100
# group_sends in flight at once: under the cluster client's 100 connections per node.
CONCURRENT_SENDS = 50
RECOVERY_TIMEOUT = 60.0


async def sends_concurrent(layer: RedisClusterChannelLayer, groups: list[str]) -> None:
    """One probe to each group, CONCURRENT_SENDS at a time; failures are the probe's business."""
    for start in range(0, len(groups), CONCURRENT_SENDS):
        batch = groups[start : start + CONCURRENT_SENDS]
        await asyncio.gather(
            *(layer.group_send(group, {"type": "probe", "group": group}) for group in batch),
            return_exceptions=True,
        )


class Inbox:
    """Everything one channel receives, read by one receive() all along."""

    def __init__(self, layer: RedisClusterChannelLayer, channel: str) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(layer, channel))

    async def _pump(self, layer: RedisClusterChannelLayer, channel: str) -> None:
        while True:
            self.queue.put_nowait(await layer.receive(channel))

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])


async def join_seconds(layer: RedisClusterChannelLayer, channel: str, groups: list[str]) -> float:
    started = time.perf_counter()
    for group in groups:
        await layer.group_add(group, channel)
    return time.perf_counter() - started


async def round_trip_ms(sender: RedisClusterChannelLayer, inbox: Inbox, groups: list[str]) -> float:
    samples = []
    for n in range(ROUND_TRIPS):
        group = groups[n * 7919 % len(groups)]
        started = time.perf_counter()
        await sender.group_send(group, {"type": "probe", "group": group})
        async with asyncio.timeout(5):
            await inbox.queue.get()
        samples.append(1000 * (time.perf_counter() - started))
    return statistics.median(samples)


async def messages_read_by_small_pod(
    cluster: RedisClusterServers, layout: RedisClusterChannelLayer, groups: list[str]
) -> int:
    """What the subscriber of a pod in SMALL_POD_GROUPS groups reads off its sockets while each
    group gets one event: with partitions, the events of every group sharing its partitions."""
    read = 0
    arrived = asyncio.Event()

    def count(channel: bytes, data: bytes) -> None:
        nonlocal read
        read += 1
        arrived.set()

    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster.ports[0])])
    subscriber = ShardedSubscriber(client, count)
    sender = RedisClusterChannelLayer(cluster.nodes, partitions=layout.partitions)
    try:
        for key in {layout.group_key(group) for group in groups[:SMALL_POD_GROUPS]}:
            await subscriber.subscribe(key)
        await sends_concurrent(sender, groups)
        while True:  # until nothing more arrives for 0.3 s
            arrived.clear()
            try:
                async with asyncio.timeout(0.3):
                    await arrived.wait()
            except TimeoutError:
                return read
    finally:
        await subscriber.close()
        await client.aclose()
        await sender.flush()


async def deliveries_collect(
    sender: RedisClusterChannelLayer, inbox: Inbox, pending: set[str], window: float
) -> float:
    """Probe the pending groups, in rounds, until each delivered one; when the last did."""
    last = time.monotonic()
    async with asyncio.timeout(RECOVERY_TIMEOUT):
        while pending:
            await sends_concurrent(sender, sorted(pending))
            round_end = time.monotonic() + window
            while pending and time.monotonic() < round_end:
                try:
                    async with asyncio.timeout(round_end - time.monotonic()):
                        pending.discard((await inbox.queue.get())["group"])
                except TimeoutError:
                    break
                last = time.monotonic()
    return last


async def recovery_seconds(
    cluster: RedisClusterServers,
    receiver: RedisClusterChannelLayer,
    inbox: Inbox,
    groups: list[str],
) -> tuple[float, float]:
    """(seconds from the kill until every group on the killed master delivered a probe again,
    seconds until its replica was promoted). The other groups are checked to deliver too."""
    master = cluster.master_for_key(receiver.group_key(groups[0]))
    hit = {group for group in groups if cluster.master_for_key(receiver.group_key(group)) == master}
    killed = time.monotonic()
    cluster.kill(master)
    # Probes go out once the slots have a master again, from a sender that reads the slot map
    # then: a sender's own failover (SPUBLISHes failing through redis-py's retries) would time
    # the probes rather than the receiver's subscriptions.
    prober = RedisClusterChannelLayer(cluster.nodes, partitions=receiver.partitions)
    try:
        await asyncio.to_thread(cluster.wait_replica_promoted, master)
        promoted = time.monotonic() - killed
        recovered = await deliveries_collect(prober, inbox, hit, window=0.1) - killed
        await deliveries_collect(prober, inbox, set(groups), window=0.3)
    finally:
        await prober.flush()
        await asyncio.to_thread(cluster.restart, master)
    return recovered, promoted


async def layout_measure(
    cluster: RedisClusterServers, groups: list[str], partitions: int
) -> dict[str, float]:
    receiver = RedisClusterChannelLayer(cluster.nodes, partitions=partitions)
    sender = RedisClusterChannelLayer(cluster.nodes, partitions=partitions)
    channel = await receiver.new_channel("pod.")
    inbox = Inbox(receiver, channel)
    try:
        join = await join_seconds(receiver, channel, groups)
        latency = await round_trip_ms(sender, inbox, groups)
        read = await messages_read_by_small_pod(cluster, receiver, groups)
        recovery, promotion = await recovery_seconds(cluster, receiver, inbox, groups)
    finally:
        await inbox.close()
        await receiver.flush()
        await sender.flush()
    return {
        "join_s": join,
        "recovery_s": recovery,
        "promotion_s": promotion,
        "p50_ms": latency,
        "read": read,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=64)
    options = parser.parse_args()
    groups = [f"room.r{n}" for n in range(options.groups)]
    layouts = {
        "one shard channel per group": 0,
        f"{options.partitions} partition channels": options.partitions,
    }
    with tempfile.TemporaryDirectory() as workdir:
        cluster = RedisClusterServers(Path(workdir), masters=3, replicas=1).start()
        try:
            rows = {
                name: asyncio.run(layout_measure(cluster, groups, partitions))
                for name, partitions in layouts.items()
            }
        finally:
            cluster.stop()
    lines = [
        f"Redis Cluster layouts: 3 masters + 3 replicas, {options.groups} groups in one process",
        "",
        f"| layout | group_add x {options.groups} | all delivering after a master's SIGKILL"
        " (promotion) | group_send round trip p50 |"
        f" messages read by a pod in {SMALL_POD_GROUPS} groups, one event per group |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['join_s']:.2f} s | {row['recovery_s']:.1f} s"
            f" ({row['promotion_s']:.1f} s) | {row['p50_ms']:.2f} ms | {row['read']:.0f} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
