"""What serves on one event loop: the pod's hub, open connections, counters and stats publisher.

One Pod per event loop, started on first use (a first WebSocket, a /metrics scrape, daphne's
reactor starting): daphne runs one loop; tests run many in one process, and each gets a pod of
its own. The pod wires the fan-out core to what it needs: the transport and member counts of the
layer in use, outage logs that count into the pod's counters, and staff disconnects.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

from realtime.config import RealtimeConfig, realtime_config
from realtime.fanout.hub import Hub
from realtime.fanout.membership import LocalMembership, RedisMembership
from realtime.fanout.transport import ChannelLayerTransport
from realtime.fanout.types import Membership
from realtime.ops.counters import PodCounters
from realtime.ops.disconnect import CONNECTION_CLOSE, connection_close_handle
from realtime.ops.stats_publish import StatsPublisher
from realtime.pod.failover import PrimaryWatch
from realtime.pod.layers import LayerName, layer_fallback_problem, layer_in_use, layer_use_redis
from realtime.pod.rejoin import redis_rejoin
from realtime.protocols.closecodes import CloseCode
from realtime.redis.clients import RedisClient, redis_client
from realtime.redis.errors import redis_error_is_read_only
from realtime.redis.outage import OutageLog
from realtime.redis.url import RedisMode
from realtime.tasks import tasks_cancel

if TYPE_CHECKING:
    from realtime.protocols.session import Session

logger = logging.getLogger(__name__)


class PodState(enum.Enum):
    STARTING = "starting"
    SERVING = "serving"
    DRAINING = "draining"  # refusing new connections, closing the open ones
    STOPPED = "stopped"


class Pod:
    def __init__(self, config: RealtimeConfig) -> None:
        self.config = config
        # The name plus a random suffix: a restarted container never counts twice in Redis.
        self.pod_id = f"{config.pod_name}.{uuid.uuid4().hex[:8]}"
        self.counters = PodCounters()
        self.hub = Hub(
            self.pod_id, config.pod_inbox, self.outage_log("Room events reach this pod only")
        )
        self.hub.handler_add(CONNECTION_CLOSE, self._connection_close)
        self.connections: dict[str, Session] = {}
        self.connections_by_address: Counter[str] = Counter()
        self.all_closed = asyncio.Event()
        self.all_closed.set()
        self.state = PodState.STARTING
        self.stats = StatsPublisher(self)
        self._membership_client: RedisClient | None = None
        self._primary_watch: PrimaryWatch | None = None
        self._rejoin: asyncio.Task[None] | None = None
        self._slow_readers: asyncio.Task[None] | None = None
        self._on_stop: list[Callable[[], Awaitable[None]]] = []

    @property
    def layer(self) -> LayerName:
        transport = self.hub.transport
        return LayerName(transport.name) if transport else layer_in_use()

    @property
    def draining(self) -> bool:
        """Draining or drained: new connections are refused, readiness fails."""
        return self.state in (PodState.DRAINING, PodState.STOPPED)

    def outage_log(self, what: str) -> OutageLog:
        """A log of Redis failures of one kind, counted in this pod's redis_errors."""
        return OutageLog(logger, what, self.config.redis.url.target, self.redis_failed)

    def redis_failed(self, error: BaseException) -> None:
        """Every failed Redis operation of this pod: counted; a write refused by a replica makes
        the primary watch look at once."""
        self.counters.redis_error()
        if self._primary_watch is not None and redis_error_is_read_only(error):
            self._primary_watch.suspect.set()

    async def start(self) -> None:
        await self.hub.start(self._transport(), self._membership())
        self.stats.start()
        target = self.config.redis.url.target
        if layer_fallback_problem() and target is not None:
            self._rejoin = asyncio.create_task(redis_rejoin(self, target), name="redis-rejoin")
        elif layer_in_use() is LayerName.REDIS:
            await self._primary_watch_start()
        if self.config.slow_client_seconds > 0:
            self._slow_readers = asyncio.create_task(
                self._slow_readers_close(), name="slow-readers"
            )
        self.state = PodState.SERVING

    async def _slow_readers_close(self) -> None:
        """Once a second: close, and count, the clients that stopped reading (pod/slow_readers)."""
        seconds = self.config.slow_client_seconds
        while True:
            await asyncio.sleep(1)
            now = time.monotonic()
            for session in list(self.connections.values()):
                if session.reading_stopped(now, seconds):
                    logger.info(
                        "Closing %s: it read nothing for %g s", session.connection_id, seconds
                    )
                    self.counters.slow_client_closed(session.protocol)
                    self.connection_remove(session)  # its transport may take a while to go
                    await session.close(CloseCode.SLOW_CLIENT)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` when the pod stops, before it leaves its rooms (a protocol's own
        state: Socket.IO's sessions and heartbeat)."""
        self._on_stop.append(callback)

    async def stop(self) -> None:
        """Leave every room, the member counts and the stats, as a pod that is going away."""
        self.state = PodState.STOPPED
        for callback in self._on_stop:
            await callback()
        await tasks_cancel([self._rejoin, self._slow_readers])
        if self._primary_watch is not None:
            await self._primary_watch.stop()
        await self.stats.stop()
        await self.hub.stop()
        await self._membership_client_close()

    async def redis_reached(self) -> None:
        """A pod that fell back reached Redis: move every room onto the Redis layer."""
        await self.redis_reconnect("Redis is reachable")
        await self._primary_watch_start()

    async def redis_reconnect(self, why: str) -> None:
        """A new Redis layer, transport and member-count client for every room of this pod,
        whose connections reach the primary as it is now; the old ones are closed."""
        target = self.config.redis.url.target
        assert target is not None, why
        old_layer, old_client = get_channel_layer(), self._membership_client
        layer_use_redis(target)
        await self.hub.transport_replace(self._transport(), self._membership())
        await old_layer.flush()  # closes the old layer's connections (memory: drops nothing)
        if old_client is not None:
            await old_client.aclose()

    async def _primary_watch_start(self) -> None:
        target = self.config.redis.url.target
        if target is None or target.mode is RedisMode.CLUSTER:
            return
        watch = PrimaryWatch(target, self.config.redis.connect_timeout, self.redis_reconnect)
        await watch.witness_open()
        watch.start()
        self._primary_watch = watch

    def connection_refusal(self, address: str | None) -> CloseCode | None:
        """Why a new connection from `address` must be refused (counted), if it must: this pod
        holds REALTIME_MAX_CONNECTIONS, or that address REALTIME_MAX_CONNECTIONS_PER_ADDRESS."""
        config = self.config
        refusal = None
        if config.max_connections and len(self.connections) >= config.max_connections:
            refusal = CloseCode.POD_FULL
        elif (
            address is not None
            and config.max_connections_per_address
            and self.connections_by_address[address] >= config.max_connections_per_address
        ):
            refusal = CloseCode.TOO_MANY_FROM_ADDRESS
        if refusal is not None:
            self.counters.refused[refusal.name.lower()] += 1
        return refusal

    def connection_add(self, session: Session) -> None:
        self.connections[session.connection_id] = session
        if session.address is not None:
            self.connections_by_address[session.address] += 1
        self.counters.connection_opened(session.protocol)
        self.all_closed.clear()

    def connection_remove(self, session: Session) -> None:
        if self.connections.pop(session.connection_id, None) is None:
            return
        if session.address is not None:
            self.connections_by_address[session.address] -= 1
            if not self.connections_by_address[session.address]:
                del self.connections_by_address[session.address]
        self.counters.connection_closed(session.protocol)
        if not self.connections:
            self.all_closed.set()

    def _transport(self) -> ChannelLayerTransport:
        return ChannelLayerTransport(get_channel_layer(), layer_in_use().value)

    def _membership(self) -> Membership:
        target = self.config.redis.url.target
        if layer_in_use() is not LayerName.REDIS or target is None:
            return LocalMembership()
        client = self._membership_client = redis_client(target, self.config.redis.connect_timeout)
        return RedisMembership(
            client,
            self.pod_id,
            self.hub.local_counts,
            heartbeat_seconds=self.config.heartbeat_seconds,
            pod_timeout_seconds=self.config.pod_timeout_seconds,
            heartbeats=self.outage_log("Membership heartbeat to Redis failed"),
            writes=self.outage_log("Member counts are not reaching Redis"),
            count_cache_seconds=self.config.members_cache_seconds,
        )

    async def _membership_client_close(self) -> None:
        if self._membership_client is not None:
            client, self._membership_client = self._membership_client, None
            await client.aclose()

    async def _connection_close(self, message: dict) -> None:
        await connection_close_handle(self.connections, message)


_pods: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Pod]] = (
    weakref.WeakKeyDictionary()
)


async def pod_serving() -> Pod:
    """This event loop's pod, started on first use."""
    loop = asyncio.get_running_loop()
    if loop not in _pods:
        _pods[loop] = loop.create_task(_pod_started(realtime_config()), name="pod-start")
    return await asyncio.shield(_pods[loop])


def pod_running() -> Pod | None:
    """This loop's pod if it is up, without starting it (readiness asks)."""
    task = _pods.get(asyncio.get_running_loop())
    return task.result() if task and task.done() and not task.exception() else None


def pods_running() -> list[Pod]:
    """The pods of every event loop of this process that are up (the admin without Redis)."""
    return [
        task.result()
        for task in list(_pods.values())
        if task.done() and not task.cancelled() and not task.exception()
    ]


async def pod_stop() -> None:
    """Stop this loop's pod, if it has one (tests; a drained pod stops through pod_drain)."""
    task = _pods.pop(asyncio.get_running_loop(), None)
    if task is not None:
        await (await task).stop()


async def _pod_started(config: RealtimeConfig) -> Pod:
    pod = Pod(config)
    await pod.start()
    return pod
