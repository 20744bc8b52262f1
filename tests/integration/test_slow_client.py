"""One client that never reads must not hold up delivery to the others (real daphne pod)."""

from __future__ import annotations

import asyncio

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
