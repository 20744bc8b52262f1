"""Graceful shutdown under daphne: on SIGTERM, close every connection with 1012 (service restart)
so clients reconnect to another pod, leave the member counts, then stop the server.

daphne has no ASGI lifespan and, on SIGTERM, cancels its applications without closing their
sockets (clients see 1006). So the pod takes over SIGTERM once daphne's reactor runs, drains,
and then stops the reactor through Twisted's public API, which lets daphne finish as usual.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from realtime.pod.lifecycle import Pod, PodState, pod_serving
from realtime.protocols.closecodes import CloseCode
from realtime.tasks import task_in_background

logger = logging.getLogger(__name__)

DRAIN_READY = "On SIGTERM this pod will drain its WebSockets before it stops"


async def pod_drain(pod: Pod, timeout: float) -> None:
    """Refuse new connections, close the open ones with 1012, wait for them, leave the counts."""
    pod.state = PodState.DRAINING
    logger.info("Draining: closing %d WebSockets (service restart)", len(pod.connections))
    for connection in list(pod.connections.values()):
        await connection.close(CloseCode.SERVICE_RESTART)
    try:
        async with asyncio.timeout(timeout):
            await pod.all_closed.wait()
    except TimeoutError:
        logger.warning("Drain timed out with %d WebSockets still open", len(pod.connections))
    try:
        # Bounded: a Redis that hangs must not keep a rollout waiting for this pod.
        async with asyncio.timeout(timeout):
            await pod.stop()
    except TimeoutError:
        logger.warning("Leaving the rooms took over %g s: stopping without", timeout)
        return
    logger.info("Drained: this pod has left every room")


def daphne_drain_install() -> None:
    """When daphne's reactor runs: start the pod, and drain on SIGTERM before stopping."""
    from twisted.internet import reactor

    def on_sigterm(pod: Pod) -> None:
        if pod.state is not PodState.SERVING:
            return

        async def drain_then_stop() -> None:
            try:
                await pod_drain(pod, pod.config.drain_seconds)
            finally:
                reactor.stop()

        task_in_background(drain_then_stop(), "drain")

    async def serving() -> None:
        pod = await pod_serving()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm, pod)
        logger.info(DRAIN_READY)

    # Startup triggers fire before the loop runs; callLater(0) lands inside the running loop.
    reactor.callWhenRunning(reactor.callLater, 0, lambda: task_in_background(serving(), "serving"))
