"""One client that never reads must not hold up delivery to the others (real daphne pod)."""

from __future__ import annotations

import asyncio
from functools import partial

from tests.support.servers import async_wait_for
from tests.support.ws_client import WsClient, stalled_client

EVENTS = 400
PAYLOAD = "x" * 20_000  # 400 x 20 kB = 8 MB: far more than the stalled socket's kernel buffers


async def test_a_stalled_client_does_not_delay_the_others(pod_factory) -> None:
    pod = pod_factory({"REALTIME_RATE": "100000", "REALTIME_BURST": "100000"}).wait_listening()
    sender, reader = await WsClient.connect(pod.ws_url), await WsClient.connect(pod.ws_url)
    await sender.join("busy")
    await reader.join("busy")
    stalled = await asyncio.to_thread(stalled_client, pod.port)

    async def stalled_in_room() -> bool:
        return await sender.members("busy") == 3

    await async_wait_for(stalled_in_room, 5, "the stalled client in the room")
    for number in range(EVENTS):
        await sender.emit("busy", "bulk", {"n": number, "pad": PAYLOAD}, echo=False)
    received = [(await reader.receive(timeout=10))["data"]["n"] for _ in range(EVENTS)]
    assert received == list(range(EVENTS))
    assert await reader.request({"type": "ping", "id": 1}) == {"type": "pong", "id": 1}
    stalled.close()
    await sender.close()
    await reader.close()


async def test_a_client_that_stops_reading_is_closed_and_counted(pod_factory) -> None:
    """A flood: the reader falls behind (its buffer in the pod stays full) but reads on, and
    stays; the stalled client acknowledges nothing more, and is closed."""
    env = {
        "REALTIME_RATE": "100000",
        "REALTIME_BURST": "100000",
        "REALTIME_SLOW_CLIENT_SECONDS": "2",
    }
    pod = pod_factory(env).wait_listening()
    sender, reader = await WsClient.connect(pod.ws_url), await WsClient.connect(pod.ws_url)
    await sender.join("busy")
    await reader.join("busy")
    stalled = await asyncio.to_thread(stalled_client, pod.port)

    async def members_are(count: int) -> bool:
        return await sender.members("busy") == count

    await async_wait_for(partial(members_are, 3), 5, "the stalled client in the room")

    def closed_as_slow() -> bool:
        metrics = pod.http_get("/metrics")[1]
        return 'murror_slow_clients_closed_total{pod="pod-1",protocol="ws"} 1.0' in metrics

    received: list[int] = []

    async def read_all() -> None:
        while True:
            received.append((await reader.receive(timeout=30))["data"]["n"])

    reading = asyncio.create_task(read_all())
    sent = 0
    async with asyncio.timeout(60):
        while not await asyncio.to_thread(closed_as_slow):
            for _ in range(EVENTS):
                await sender.emit("busy", "bulk", {"n": sent, "pad": PAYLOAD}, echo=False)
                sent += 1
        await async_wait_for(
            lambda: len(received) >= sent or reading.done(), 30, "the reader to take them all"
        )
    assert not reading.done(), reading.exception()  # the reader was never closed
    reading.cancel()
    assert received == list(range(sent))
    await async_wait_for(partial(members_are, 2), 5, "the stalled client out of the room")
    assert "it read nothing for 2 s" in pod.log()
    stalled.close()
    await sender.close()
    await reader.close()
