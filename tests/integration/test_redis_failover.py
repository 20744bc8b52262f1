"""Failovers with real daphne pods and WebSocket clients (SPEC, "Redis topologies and failover"):
Sentinel killing a master, a managed endpoint moving to a new primary, a URL at a replica.

Connections stay open through a failover, and cross-pod delivery and member counts are back
within 10 s. The gap each failover costs is printed (`pytest -s`) for docs/operations.md.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import pytest
import redis.asyncio

from realtime.pod.startup import FALLBACK_MESSAGE
from tests.support.delivery import (
    RECOVERY_SECONDS,
    assert_never_reconnected,
    clients_in_room,
    counts_back,
    delivery_back,
)
from tests.support.redis_sentinel import (
    SentinelServers,
    replicated_pair,
    replication_swap,
)
from tests.support.servers import (
    DaphnePod,
    RedisServer,
    async_wait_for,
    manage_py,
    pods_serving,
    wait_for,
)
from tests.support.tcp_proxy import TcpProxy, managed_failover
from tests.support.ws_client import WsClient

# With characters a URL must escape; no spaces (tests/support/redis_sentinel.py says why).
DATA_PASSWORD = "fail-over/pw@x%"
SENTINEL_PASSWORD = "sentinel:s3cret/pw"
WRONG_PASSWORD = "Wr0ng-sentinel#pw"
REPLICA_ERROR = "Error: REDIS_URL points at a read-only replica"
# Sentinels publish their hellos into every node they watch, a demoted master too.
HELLO = "PUBLISH __SENTINEL__:HELLO"
MONITOR_TIMEOUT = 5
# A message of a `realtime` logger in a pod's log, after the time, level and logger name.
REALTIME_LINE = re.compile(r"^\S+ \S+ [A-Z]+ realtime[\w.]*: (.*)$")


class ManagedRedis(NamedTuple):
    """A primary and its replica behind one endpoint, as a managed Redis service is."""

    primary: RedisServer
    replica: RedisServer
    proxy: TcpProxy

    @property
    def url(self) -> str:
        return f"redis://:{quote(DATA_PASSWORD, safe='')}@127.0.0.1:{self.proxy.port}"


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelServers]:
    """Shared by the check_redis tests, which leave it as they found it."""
    workdir = tmp_path_factory.mktemp("sentinels")
    servers = SentinelServers(workdir, password=DATA_PASSWORD, sentinel_password=SENTINEL_PASSWORD)
    try:
        yield servers.start()
    finally:
        servers.stop()


@pytest.fixture
def fresh_sentinels(tmp_path: Path) -> Iterator[SentinelServers]:
    """For a test that fails over: its own set-up."""
    servers = SentinelServers(tmp_path / "sentinels", password=DATA_PASSWORD)
    try:
        yield servers.start()
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def replica_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and a replica that stay so: tests only point things at the replica."""
    pair = replicated_pair(tmp_path_factory.mktemp("replica-pair"), DATA_PASSWORD)
    yield pair
    for server in pair:
        server.stop()


@pytest.fixture
def managed_redis(tmp_path: Path) -> Iterator[ManagedRedis]:
    primary, replica = replicated_pair(tmp_path / "managed", DATA_PASSWORD)
    try:
        with TcpProxy(primary.port) as proxy:
            yield ManagedRedis(primary, replica, proxy)
    finally:
        primary.stop()
        replica.stop()


async def publishing_stops(
    demoted: RedisServer, master_port: int, clients: list[WsClient], room: str, since: float
) -> None:
    """Within the SPEC's 10 s of `since`, pods publish nothing into the demoted node while their
    events cross both ways: a PUBLISH there reaches nobody on the new primary."""
    strays: Counter[str] = Counter()

    async def none_stray() -> bool:
        strays.clear()  # stays empty when a delivery fails: that error is the one to see
        async with publishes_into(demoted, master_port) as publishers:
            now = time.monotonic()
            await delivery_back(clients[0], clients[1], room, now, RECOVERY_SECONDS)
            await delivery_back(clients[1], clients[0], room, now, RECOVERY_SECONDS)
        strays.update(publishers)
        return not strays

    within = max(0.1, RECOVERY_SECONDS - (time.monotonic() - since))
    try:
        await async_wait_for(none_stray, within, "pods to stop publishing into the demoted node")
    except AssertionError as timeout:
        if not strays:
            raise
        raise AssertionError(f"{timeout}; PUBLISH there from {dict(strays)}") from None


@asynccontextmanager
async def publishes_into(node: RedisServer, master_port: int) -> AsyncIterator[list[str]]:
    """The clients (address:port) of each PUBLISH `node` runs while inside, seen through
    MONITOR; not those its master replicates to it (they come from the master's port)."""
    seen: list[str] = []
    client = redis.asyncio.Redis(port=node.port, password=node.password, protocol=2)
    try:
        async with client.monitor() as monitor:
            yield seen
            # MONITOR has no end: read what it has until a command of our own marks the end.
            await node_marker(node)
            async with asyncio.timeout(MONITOR_TIMEOUT):
                async for command in monitor.listen():
                    text = command["command"].upper()
                    if text == "ECHO END-OF-WINDOW":
                        break
                    from_master = command.get("client_port") == str(master_port)
                    if text.startswith("PUBLISH") and not (from_master or text.startswith(HELLO)):
                        seen.append(f"{command['client_address']}:{command['client_port']}")
    finally:
        await client.aclose()


async def node_marker(node: RedisServer) -> None:
    async with redis.asyncio.Redis(port=node.port, password=node.password) as client:
        await client.echo("end-of-window")


async def test_sentinel_master_killed(tmp_path: Path, fresh_sentinels: SentinelServers) -> None:
    with pods_serving(tmp_path, {"REDIS_URL": fresh_sentinels.url()}, ["pod-a", "pod-b"]) as pods:
        alice, bob = await clients_in_room(pods, "through-failover")
        killed = time.monotonic()
        old_port = fresh_sentinels.kill_master()
        across = await delivery_back(alice, bob, "through-failover", killed, RECOVERY_SECONDS)
        print(f"\nSentinel, master killed (kill -9): {across}")
        back = await delivery_back(bob, alice, "through-failover", killed, RECOVERY_SECONDS)
        await counts_back([alice, bob], "through-failover", killed)
        await asyncio.to_thread(fresh_sentinels.wait_failover, old_port, RECOVERY_SECONDS)
        assert across.seconds < RECOVERY_SECONDS, across
        assert back.seconds < RECOVERY_SECONDS, f"back the other way: {back}"
        await assert_never_reconnected([alice, bob])
        await alice.close()
        await bob.close()


async def test_sentinel_failover_with_the_old_master_up(
    tmp_path: Path, fresh_sentinels: SentinelServers
) -> None:
    """SENTINEL FAILOVER: the old master stays a master for about 10 s more, until Sentinel
    reconfigures it; pods follow the master Sentinel names, not the one they had."""
    with pods_serving(tmp_path, {"REDIS_URL": fresh_sentinels.url()}, ["pod-a", "pod-b"]) as pods:
        alice, bob = await clients_in_room(pods, "planned")
        started = time.monotonic()
        old_port = fresh_sentinels.failover()
        # Measured from the failover on: the wait for the sentinels runs beside the events.
        new_master = asyncio.create_task(
            asyncio.to_thread(fresh_sentinels.wait_failover, old_port, RECOVERY_SECONDS)
        )
        across = await delivery_back(alice, bob, "planned", started, RECOVERY_SECONDS)
        new_port = await new_master
        print(f"\nSentinel, SENTINEL FAILOVER with the old master up: {across}")
        back = await delivery_back(bob, alice, "planned", started, RECOVERY_SECONDS)
        await counts_back([alice, bob], "planned", started)
        old_master = fresh_sentinels.node(old_port)
        await publishing_stops(old_master, new_port, [alice, bob], "planned", started)
        assert back.seconds < RECOVERY_SECONDS, f"back the other way: {back}"
        await assert_never_reconnected([alice, bob])
        await alice.close()
        await bob.close()


def check_redis_json(tmp_path: Path, env: dict[str, str]) -> tuple[int, dict]:
    """`check_redis --json`'s exit status and report; no traceback, no secret anywhere."""
    result = manage_py(tmp_path, env, "check_redis", "--json", timeout=30)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    for secret in (DATA_PASSWORD, SENTINEL_PASSWORD, WRONG_PASSWORD):
        for form in (secret, quote(secret), quote(secret, safe="")):
            assert form not in output, f"a password in check_redis's output:\n{output}"
    return result.returncode, json.loads(result.stdout)


def sentinel_env(servers: SentinelServers, sentinel_password: str | None) -> dict[str, str]:
    env = {"REDIS_URL": servers.url()}
    return env | ({"REDIS_SENTINEL_PASSWORD": sentinel_password} if sentinel_password else {})


def test_check_redis_reports_the_sentinel_set_up(tmp_path: Path, sentinels) -> None:
    status, report = check_redis_json(tmp_path, sentinel_env(sentinels, SENTINEL_PASSWORD))
    assert (status, report["healthy"]) == (0, True), report
    assert report["mode"] == "sentinel"
    assert report["master"] == f"127.0.0.1:{sentinels.master_port()}"
    assert report["sentinels"] == {"reachable": 3, "total": 3}
    assert report["quorum"] is True
    assert report["role"] == "master"
    assert report["url"].startswith("redis+sentinel://***@127.0.0.1:"), report["url"]
    assert report["layer_roundtrip_ms"] > 0


def test_check_redis_counts_a_sentinel_that_is_down(tmp_path: Path, sentinels) -> None:
    down = sentinels.sentinels[-1]
    down.stop()
    try:
        status, report = check_redis_json(tmp_path, sentinel_env(sentinels, SENTINEL_PASSWORD))
    finally:
        down.start()
    assert (status, report["healthy"]) == (0, True), report
    assert report["sentinels"] == {"reachable": 2, "total": 3}
    assert report["quorum"] is True  # two of three still make the quorum of 2, and a majority


@pytest.mark.parametrize(
    ("sentinel_password", "refusal"), [(WRONG_PASSWORD, "WRONGPASS"), (None, "NOAUTH")]
)
def test_check_redis_with_a_wrong_sentinel_password(
    tmp_path: Path, sentinels, sentinel_password: str | None, refusal: str
) -> None:
    status, report = check_redis_json(tmp_path, sentinel_env(sentinels, sentinel_password))
    assert (status, report["healthy"]) == (1, False), report
    assert report["error"].startswith(f"Error: {refusal}"), report
    # Clear about which password: REDIS_URL's is right, the sentinels' is not.
    assert "sentinel" in (report["error"] + report.get("solution", "")).lower(), report


async def test_managed_endpoint_moves_to_a_new_primary(
    tmp_path: Path, managed_redis: ManagedRedis
) -> None:
    primary, replica, proxy = managed_redis
    with pods_serving(tmp_path, {"REDIS_URL": managed_redis.url}, ["pod-a", "pod-b"]) as pods:
        alice, bob = await clients_in_room(pods, "moving")
        moved = time.monotonic()
        managed_failover(primary, replica, proxy)
        across = await delivery_back(alice, bob, "moving", moved, RECOVERY_SECONDS)
        print(f"\nManaged endpoint, old primary left up as a replica: {across}")
        back = await delivery_back(bob, alice, "moving", moved, RECOVERY_SECONDS)
        await counts_back([alice, bob], "moving", moved)
        await publishing_stops(primary, replica.port, [alice, bob], "moving", moved)
        assert back.seconds < RECOVERY_SECONDS, f"back the other way: {back}"
        await assert_never_reconnected([alice, bob])
        await alice.close()
        await bob.close()


def realtime_messages(log: str) -> list[str]:
    return [match[1] for line in log.splitlines() if (match := REALTIME_LINE.match(line))]


def test_pod_started_at_a_replica_falls_back(pod_factory, replica_pair) -> None:
    replica = replica_pair[1]
    pod = pod_factory({"REDIS_URL": replica.url()}).wait_listening()
    messages = realtime_messages(pod.log())
    assert REPLICA_ERROR in messages, "\n".join(messages)
    after = messages[messages.index(REPLICA_ERROR) + 1 :]
    assert after[0].startswith("Solution: "), after
    assert FALLBACK_MESSAGE in after
    assert "Redis adapter initialized successfully" not in messages
    status, body = pod.http_get("/readyz")
    assert (status, json.loads(body)) == (
        200,
        {"status": "ok", "layer": "memory", "degraded": True},
    )


def test_pod_started_at_a_replica_with_redis_required_exits(pod_factory, replica_pair) -> None:
    replica = replica_pair[1]
    pod = pod_factory({"REDIS_URL": replica.url(), "REDIS_REQUIRED": "true"})
    wait_for(lambda: pod.exit_code() is not None, 20, "the pod to exit without a primary")
    assert pod.exit_code() != 0, pod.log()
    messages = realtime_messages(pod.log())
    assert REPLICA_ERROR in messages, "\n".join(messages)
    assert FALLBACK_MESSAGE not in messages
    assert "Listening on TCP address" not in pod.log()


def test_check_redis_at_a_replica(tmp_path: Path, replica_pair) -> None:
    env = {"REDIS_URL": replica_pair[1].url()}
    human = manage_py(tmp_path, env, "check_redis", timeout=30)
    assert human.returncode == 1, human.stdout + human.stderr
    error, solution = human.stderr.splitlines()[-2:]
    assert (error, solution.startswith("Solution: ")) == (REPLICA_ERROR, True)
    status, report = check_redis_json(tmp_path, env)
    assert (status, report["healthy"]) == (1, False)
    assert (report["error"], report["solution"]) == (error, solution)


def test_readyz_while_the_pods_redis_is_a_replica(
    tmp_path: Path, pod_factory, managed_redis: ManagedRedis
) -> None:
    primary, replica, proxy = managed_redis
    required = pod_factory({"REDIS_URL": managed_redis.url, "REDIS_REQUIRED": "true"}, "required")
    optional = pod_factory({"REDIS_URL": managed_redis.url}, "optional")
    for pod in (required, optional):
        assert pod.wait_listening().http_get("/readyz")[0] == 200
    # The endpoint still leads to the old primary, now a replica: what a pod's open connections
    # see after any failover, until it reconnects.
    replication_swap(primary, replica)

    def readiness(pod: DaphnePod) -> tuple[int, dict]:
        status, body = pod.http_get("/readyz")
        return status, json.loads(body)

    def replica_reported() -> bool:
        (status, body), (optional_status, optional_body) = map(readiness, (required, optional))
        return (status, optional_status) == (503, 200) and all(
            "read-only replica" in report.get("error", "") for report in (body, optional_body)
        )

    wait_for(replica_reported, RECOVERY_SECONDS, "/readyz to report the read-only replica")
    assert readiness(optional)[1]["degraded"] is True
    proxy.switch(replica.port)
    ready = (200, {"status": "ok", "layer": "redis"})
    wait_for(
        lambda: readiness(required) == ready and readiness(optional) == ready,
        RECOVERY_SECONDS,
        "/readyz to be ready again on the new primary",
    )
