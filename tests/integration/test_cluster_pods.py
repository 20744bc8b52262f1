"""Two daphne pods on a real 3-master Redis Cluster (SPEC, "Redis topologies and failover"):
rooms on every shard across pods, member counts, stats, `manage.py emit`, `check_redis`, a plain
URL at a cluster node, and a master killed under open connections."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.ops.stats_read import snapshots_read
from realtime.pod.startup import FALLBACK_MESSAGE
from realtime.redis.clients import redis_client
from realtime.redis.cluster_layer import RedisClusterChannelLayer
from realtime.redis.keys import LAYER_PREFIX, room_group
from realtime.redis.layer import redis_layer_new
from realtime.redis.url import redis_target_parse
from tests.support.delivery import (
    RECOVERY_SECONDS,
    assert_never_reconnected,
    clients_in_room,
    counts_back,
    delivery_back,
)
from tests.support.redis_cluster import RedisClusterServers
from tests.support.servers import (
    PROJECT_ROOT,
    DaphnePod,
    async_wait_for,
    manage_py,
    pods_serving,
)
from tests.support.ws_client import WsClient

PASSWORD = "clu/ster@pw%"
ACL_USER, ACL_PASSWORD = "murror-app", "least-privilege"
# Start-up's round trip goes through every shard: more than the tests' usual 2 s on a loaded
# machine (the shipped default is 5 s too).
CONNECT = {"REDIS_CONNECT_TIMEOUT": "5"}
# The layer's shard channel names, as every pod computes them.
NAMES = RedisClusterChannelLayer(nodes=["127.0.0.1:1"], prefix=LAYER_PREFIX)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path_factory.mktemp("cluster"), masters=3, password=PASSWORD)
    try:
        yield servers.start()
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory, cluster) -> Iterator[list[DaphnePod]]:
    workdir = tmp_path_factory.mktemp("cluster-pods")
    env = {"REDIS_URL": cluster.url(), "REALTIME_STATS_SECONDS": "1", **CONNECT}
    with pods_serving(workdir, env, ["pod-1", "pod-2"]) as pair:
        yield pair


def room_on(cluster: RedisClusterServers, master: int, stem: str) -> str:
    """A room name whose group's shard channel the master on port `master` owns."""
    for n in range(10_000):
        room = f"{stem}-{n}"
        if cluster.master_for_key(NAMES.group_key(room_group(room))) == master:
            return room
    raise AssertionError(f"no room of {stem!r} hashes to {master}")


def test_pods_start_on_the_cluster_with_the_four_lines(pods, cluster) -> None:
    for pod in pods:
        log = pod.log()
        assert f"Connecting to Redis: redis+cluster://***@{','.join(cluster.nodes)}" in log
        assert "Redis adapter initialized successfully" in log, log
        assert FALLBACK_MESSAGE not in log
        assert pod.http_get("/readyz") == (200, json.dumps({"status": "ok", "layer": "redis"}))


async def test_rooms_on_every_shard_reach_both_pods_both_ways(pods, cluster) -> None:
    rooms = [room_on(cluster, master, "shard") for master in cluster.ports]  # all masters
    for room in rooms:
        first, second = [await WsClient.connect(pod.ws_url) for pod in pods]
        await first.join(room)
        await second.join(room)
        assert [await first.members(room), await second.members(room)] == [2, 2]
        await first.emit(room, "there", {"room": room}, echo=False)
        assert (await second.receive())["data"] == {"room": room}
        await second.emit(room, "back", [1], echo=False)
        assert (await first.receive())["data"] == [1]
        await second.close()

        async def one_left(first: WsClient = first, room: str = room) -> bool:
            return await first.members(room) == 1

        await async_wait_for(one_left, 2, f"{room}'s count after a member left")
        await first.close()


async def test_manage_py_emit_reaches_members_on_both_pods(pods, cluster) -> None:
    room = room_on(cluster, cluster.ports[1], "emitted")
    members = [await WsClient.connect(pod.ws_url) for pod in pods]
    for member in members:
        await member.join(room)
    result = await asyncio.to_thread(
        manage_py, Path("/nonexistent"), {"REDIS_URL": cluster.url()}, "emit", room, "news", "[7]"
    )
    assert result.returncode == 0, result.stderr
    for member in members:
        event = await member.receive()
        assert (event["event"], event["data"], event["from"]) == ("news", [7], None)
        await member.close()


async def test_stats_of_both_pods_read_from_the_cluster(pods, cluster) -> None:
    client = redis_client(redis_target_parse(cluster.url()), 2)
    names: set[str] = set()

    async def both_published() -> bool:
        snapshots, _ = await snapshots_read(client)
        names.update(snapshot["pod"] for snapshot in snapshots)
        return {"pod-1", "pod-2"} <= names

    try:
        await async_wait_for(both_published, 10, "both pods' stats snapshots")
    finally:
        await client.aclose()


async def test_group_send_from_plain_channels_code_reaches_both_pods(pods, cluster) -> None:
    """The product's cluster layer is a Channels layer: a worker's `group_send` on a room's
    group reaches the room's members on every pod, whichever shard the room is on."""
    layer = redis_layer_new(redis_target_parse(cluster.url()))
    try:
        for master in cluster.ports:
            room = room_on(cluster, master, "plain")
            members = [await WsClient.connect(pod.ws_url) for pod in pods]
            for member in members:
                await member.join(room)
            message = {"type": "room.event", "room": room, "event": "from-worker", "data": master}
            await layer.group_send(room_group(room), message)
            for member in members:
                assert (await member.receive())["data"] == master
                await member.close()
    finally:
        await layer.flush()


def test_check_redis_reports_the_cluster_and_goes_through_every_shard(cluster) -> None:
    result = manage_py(Path("/nonexistent"), {"REDIS_URL": cluster.url()}, "check_redis", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert PASSWORD not in result.stdout
    assert (report["healthy"], report["mode"], report["cluster_state"]) == (True, "cluster", "ok")
    assert sorted(shard["primary"] for shard in report["shards"]) == sorted(cluster.nodes)
    assert all(shard["healthy"] and shard["replicas"] == 0 for shard in report["shards"])
    assert report["layer_roundtrip_ms"] > 0


def test_a_plain_url_at_a_cluster_node_is_an_error(tmp_path: Path, cluster) -> None:
    url = "redis://" + cluster.url().split("://", 1)[1].split(",")[0]  # its first node
    result = manage_py(tmp_path, {"REDIS_URL": url}, "check_redis")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "Error: REDIS_URL points at a Redis Cluster node",
        "Solution: use redis+cluster://[user][:password]@host:port[,host:port...] "
        "(rediss+cluster:// for TLS), naming one or more nodes",
    ]
    with pods_serving(tmp_path, {"REDIS_URL": url}, ["plain"]) as (pod,):
        log = pod.wait_for_log(FALLBACK_MESSAGE)
        assert "Error: REDIS_URL points at a Redis Cluster node" in log
        assert PASSWORD not in log


async def test_delivery_and_counts_come_back_after_a_master_is_killed(tmp_path: Path) -> None:
    cluster = RedisClusterServers(tmp_path / "cluster", masters=3, replicas=1, password=PASSWORD)
    cluster.start()
    try:
        room = room_on(cluster, cluster.master_for_slot(0), "through-failover")
        env = {"REDIS_URL": cluster.url(), **CONNECT}
        with pods_serving(tmp_path, env, ["pod-a", "pod-b"]) as pods:
            alice, bob = await clients_in_room(pods, room)
            killed = time.monotonic()
            cluster.kill(cluster.master_for_key(NAMES.group_key(room_group(room))))
            across = await delivery_back(alice, bob, room, killed, RECOVERY_SECONDS)
            print(f"\nRedis Cluster, the room's master killed (kill -9): {across}")
            back = await delivery_back(bob, alice, room, killed, RECOVERY_SECONDS)
            await counts_back([alice, bob], room, killed)
            assert back.seconds < RECOVERY_SECONDS, f"back the other way: {back}"
            await assert_never_reconnected([alice, bob])
            await alice.close()
            await bob.close()
    finally:
        cluster.stop()


def documented_cluster_acl() -> list[str]:
    """The least-privilege rules of docs/operations.md, then the cluster's own of
    docs/redis-topologies.md."""
    docs = PROJECT_ROOT / "docs"
    rules = []
    for page, head in (("operations.md", "on >PASSWORD "), ("redis-topologies.md", "")):
        text = (docs / page).read_text()
        (line,) = re.findall(rf"^ACL SETUSER murror-app {head}(.+)$", text, re.MULTILINE)
        rules += line.split()
    return rules


async def test_the_documented_cluster_acl_is_enough(tmp_path: Path, cluster) -> None:
    for port in cluster.ports:
        with cluster.client(port) as admin:
            admin.execute_command("ACL", "SETUSER", ACL_USER, "on", f">{ACL_PASSWORD}")
            admin.execute_command("ACL", "SETUSER", ACL_USER, *documented_cluster_acl())
            admin.execute_command("ACL", "LOG", "RESET")
    nodes = cluster.url().split("@", 1)[1]
    env = {"REDIS_URL": f"redis+cluster://{ACL_USER}:{ACL_PASSWORD}@{nodes}", **CONNECT}
    room = room_on(cluster, cluster.ports[2], "acl")
    with pods_serving(tmp_path, env | {"REALTIME_STATS_SECONDS": "1"}, ["acl-1", "acl-2"]) as pods:
        clients = await clients_in_room(pods, room)
        emitted = await asyncio.to_thread(manage_py, tmp_path, env, "emit", room, "notice", "{}")
        assert emitted.returncode == 0, emitted.stderr
        for client in clients:
            while (await client.receive())["event"] != "notice":
                pass
        checked = await asyncio.to_thread(manage_py, tmp_path, env, "check_redis", "--json")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for client in clients:
            await client.close()
    for pod in pods:
        assert "NOPERM" not in pod.log(), pod.log()
    for port in cluster.ports:
        with cluster.client(port) as admin:
            assert admin.execute_command("ACL", "LOG") == [], f"refused on node {port}"
