"""Graceful shutdown under daphne: on SIGTERM, close every WebSocket with 1012 (service restart)
so clients reconnect to another pod, leave the member counts, then stop the server.

daphne has no ASGI lifespan and, on SIGTERM, cancels its applications without closing their
sockets (clients see 1006). So the pod takes over SIGTERM once daphne's reactor runs, drains,
and then stops the reactor through Twisted's public API, which lets daphne finish as usual.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from django.conf import settings

from realtime.consumer import SERVICE_RESTART
from realtime.pod import pod_leave, pod_rooms, task_in_background
from realtime.rooms import PodRooms

logger = logging.getLogger(__name__)

DRAIN_READY = "On SIGTERM this pod will drain its WebSockets before it stops"


async def pod_drain(rooms: PodRooms, timeout: float) -> None:
    """Refuse new connections, close the open ones with 1012, wait for them, leave the counts."""
    rooms.draining = True
    logger.info("Draining: closing %d WebSockets (service restart)", len(rooms.connections))
    for connection in list(rooms.connections.values()):
        await connection.close_with(SERVICE_RESTART)
    try:
        async with asyncio.timeout(timeout):
            await rooms.all_closed.wait()
    except TimeoutError:
        logger.warning("Drain timed out with %d WebSockets still open", len(rooms.connections))
    await pod_leave(rooms)
    logger.info("Drained: this pod has left every room")


def daphne_drain_install() -> None:
    """When daphne's reactor runs: start the rooms, and drain on SIGTERM before stopping."""
    from twisted.internet import reactor

    def on_sigterm(rooms: PodRooms) -> None:
        if rooms.draining:
            return

        async def drain_then_stop() -> None:
            try:
                await pod_drain(rooms, settings.REALTIME_DRAIN_SECONDS)
            finally:
                reactor.stop()

        task_in_background(drain_then_stop(), "drain")

    async def serving() -> None:
        rooms = await pod_rooms()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm, rooms)
        logger.info(DRAIN_READY)

    # Startup triggers fire before the loop runs; callLater(0) lands inside the running loop.
    reactor.callWhenRunning(reactor.callLater, 0, lambda: task_in_background(serving(), "serving"))
