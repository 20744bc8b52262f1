"""Redis outages at run time, with real daphne pods: they keep serving and heal by themselves."""

from __future__ import annotations

import time

from tests.support.servers import RedisServer, async_wait_for, wait_for
from tests.support.ws_client import WsClient


async def emit_until_received(
    sender: WsClient, receiver: WsClient, room: str, within: float
) -> float:
    """Emit a probe every 0.2 s until `receiver` gets one; seconds it took. Fails after
    `within`, or when the first event `receiver` gets is not a probe."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        await sender.emit(room, "probe", time.monotonic(), echo=False)
        try:
            while (frame := await receiver.receive(timeout=0.2))["type"] != "event":
                pass
        except TimeoutError:
            continue
        assert frame["event"] == "probe", frame
        return time.monotonic() - started
    raise AssertionError(f"nothing crossed pods within {within}s")


async def test_redis_restarting_empty_heals_open_connections(pod_factory, redis_factory) -> None:
    server = redis_factory(password="pw")
    env = {"REDIS_URL": server.url()}
    first, second = (pod_factory(env, name=f"pod-{n}").wait_listening() for n in (1, 2))
    alice, alice_neighbour = (
        await WsClient.connect(first.ws_url),
        await WsClient.connect(first.ws_url),
    )
    bob = await WsClient.connect(second.ws_url)
    for client in (alice, alice_neighbour, bob):
        await client.join("survivors")

    server.stop()  # SIGKILL: a failover without persistence
    await alice.emit("survivors", "during-outage", 1, echo=False, id="o1")
    assert (await alice_neighbour.receive())["event"] == "during-outage"
    assert await alice.receive() == {"type": "ack", "id": "o1"}
    # Nothing crosses while Redis is away: emit_until_received below fails if the first event
    # bob gets is that one rather than a probe sent after Redis came back.
    wait_for(lambda: "Room events reach this pod only" in first.log(), 5, "the outage log line")

    server.restart()  # empty: no subscriptions, no member counts
    restarted = time.monotonic()
    await emit_until_received(alice, bob, "survivors", within=10)
    await emit_until_received(bob, alice, "survivors", within=10)

    async def counts_restored() -> bool:
        return await bob.members("survivors") == 3

    within = max(0.1, 10 - (time.monotonic() - restarted))
    await async_wait_for(counts_restored, within, "member counts restored", interval=0.2)
    for client in (alice, alice_neighbour, bob):
        await client.close()


async def test_a_pod_that_fell_back_joins_the_others_when_redis_comes(
    pod_factory, tmp_path
) -> None:
    server = RedisServer(tmp_path / "late-redis", password="pw")  # not started yet
    env = {"REDIS_URL": server.url(), "REALTIME_REDIS_RETRY_SECONDS": "0.5"}
    try:
        early = pod_factory(env, name="early").wait_listening()
        assert "Falling back to in-memory channel layer" in early.log()
        alice = await WsClient.connect(early.ws_url)
        await alice.join("reunion")

        server.start()
        late = pod_factory(env, name="late").wait_listening()
        wait_for(lambda: "Redis is reachable again" in early.log(), 15, "the pod to rejoin")
        bob = await WsClient.connect(late.ws_url)
        await bob.join("reunion")
        await emit_until_received(alice, bob, "reunion", within=5)
        await emit_until_received(bob, alice, "reunion", within=5)
        assert await bob.members("reunion") == 2
        await alice.close()
        await bob.close()
    finally:
        server.stop()
