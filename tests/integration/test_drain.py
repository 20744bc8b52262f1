"""SIGTERM on a real daphne pod: WebSockets closed for a reconnect, counts left, prompt exit."""

from __future__ import annotations

import asyncio
import signal

import websockets

from realtime.pod.drain import DRAIN_READY
from realtime.protocols.closecodes import CloseCode
from tests.support.servers import async_wait_for, wait_for
from tests.support.ws_client import WsClient


async def test_sigterm_closes_websockets_leaves_rooms_and_exits(pod_factory, redis_factory) -> None:
    server = redis_factory(password="pw")
    env = {"REDIS_URL": server.url()}
    leaving = pod_factory(env, name="leaving").wait_listening()
    staying = pod_factory(env, name="staying").wait_listening()
    clients = [await WsClient.connect(leaving.ws_url) for _ in range(2)]
    observer = await WsClient.connect(staying.ws_url)
    for client in [*clients, observer]:
        await client.join("drained")
    assert await observer.members("drained") == 3

    leaving.wait_for_log(DRAIN_READY)  # SIGTERM before it would be daphne's plain stop
    assert leaving.process
    leaving.process.send_signal(signal.SIGTERM)
    for client in clients:
        try:
            message = await client.receive(timeout=10)
            raise AssertionError(f"expected a close, got {message}")
        except websockets.ConnectionClosed as closed:
            # daphne cannot send 1012 itself (docs/operations.md, graceful shutdown): 4012
            # means the same.
            assert closed.rcvd is not None
            assert closed.rcvd.code == CloseCode.SERVICE_RESTART_PRIVATE
    assert await asyncio.to_thread(leaving.wait_exit, 15) == 0

    async def only_the_observer() -> bool:
        return await observer.members("drained") == 1

    # The observer's pod may have counted the others up to REALTIME_MEMBERS_CACHE_SECONDS ago.
    await async_wait_for(only_the_observer, 2, "the drained pod's members to stop counting")
    assert "Drained: this pod has left every room" in leaving.log()
    await observer.close()


def test_sigterm_with_no_connections_exits_at_once(pod_factory) -> None:
    pod = pod_factory().wait_listening()
    pod.wait_for_log(DRAIN_READY)
    assert pod.process
    pod.process.send_signal(signal.SIGTERM)
    assert pod.wait_exit(15) == 0
    wait_for(lambda: "Drained" in pod.log(), 5, "the drain log line")
