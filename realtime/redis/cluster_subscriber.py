"""Sharded pub/sub subscriptions on a Redis Cluster that survive failovers and slot moves.

Not redis-py's ClusterPubSub (8.1): its get_sharded_message reads the per-node pubsubs in turn
with a timeout each, so an event on one node waits out the timeouts of the others, and a
subscriber on a client of its own did not recover when its channel's master was killed (fixed by
redis-py PR #4076, not released). Here each primary gets one connection and one task blocked
reading it. Whatever goes wrong on that connection (it drops, PING goes unanswered, MOVED, or the
server's own SUNSUBSCRIBE when the slot left the node) refreshes the slot map and subscribes every
channel again on the primary that owns it now.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

logger = logging.getLogger(__name__)

# An idle connection is PINGed after this long, and given up after as long again without a reply:
# a master that vanished without closing the socket is noticed within twice this.
PING_INTERVAL = 2.0
# Between two attempts on a node that failed: a killed master's slots stay on it until a replica
# is promoted (about cluster-node-timeout plus a second), and each attempt refreshes the slot map.
RETRY_DELAY = 0.2
# How long subscribe() waits for the server's confirmation, through a failover if one is on.
SUBSCRIBE_TIMEOUT = 10.0
_TROUBLE = (RedisError, RedisClusterException, OSError)


class ShardMoved(RedisError):
    """The node no longer serves our channels' slots: it dropped a subscription we still want,
    or it is a replica now."""


class ReaderState(enum.Enum):
    CONNECTING = "connecting"
    SUBSCRIBED = "subscribed"
    RETIRED = "retired"


class ShardedSubscriber:
    """Keeps a set of shard channels subscribed on whichever primaries own them, and hands each
    message to `on_message(channel, data)`."""

    def __init__(self, cluster: RedisCluster, on_message: Callable[[bytes, bytes], None]) -> None:
        self.cluster = cluster
        self.on_message = on_message
        self._readers: dict[str, NodeReader] = {}
        self._owners: dict[bytes, NodeReader] = {}
        self._confirmed: dict[bytes, asyncio.Future[None]] = {}
        self._refresh_lock = asyncio.Lock()
        self._refresh_failing = False  # logged once per outage, not at every retry

    async def subscribe(self, channel: bytes) -> None:
        """Return once the channel's primary confirmed SSUBSCRIBE: a message published after
        that reaches us."""
        confirmed = self._confirmed.get(channel)
        if confirmed is None:
            await self.cluster.initialize()
            confirmed = self._confirmed[channel] = asyncio.get_running_loop().create_future()
            reader = self._owners[channel] = self._reader_for(channel)
            await reader.channels_add([channel])
        try:
            # Shielded: a caller that gives up must not cancel what other callers wait for.
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await asyncio.shield(confirmed)
        except TimeoutError:
            raise TimeoutError(
                f"no SSUBSCRIBE confirmation for {channel!r} within {SUBSCRIBE_TIMEOUT}s"
            ) from None

    async def unsubscribe(self, channel: bytes) -> None:
        confirmed = self._confirmed.pop(channel, None)
        if confirmed is None:
            return
        if not confirmed.done():
            confirmed.set_result(None)
        await self._owners.pop(channel).channels_remove([channel])

    def confirm(self, channel: bytes) -> None:
        confirmed = self._confirmed.get(channel)
        if confirmed is not None and not confirmed.done():
            confirmed.set_result(None)

    async def topology_refresh(self) -> None:
        """Read the slot map again and move each channel to the reader of its owner now."""
        async with self._refresh_lock:
            try:
                await self.cluster.nodes_manager.initialize()
            except _TROUBLE as error:
                if not self._refresh_failing:
                    logger.warning("Reading the Redis Cluster slot map failed: %s", error)
                self._refresh_failing = True
                return
            if self._refresh_failing:
                logger.info("Read the Redis Cluster slot map again")
            self._refresh_failing = False
            moves: defaultdict[tuple[NodeReader, NodeReader], list[bytes]] = defaultdict(list)
            for channel, reader in list(self._owners.items()):
                try:
                    owner = self._reader_for(channel)
                except _TROUBLE:
                    continue  # Its slot is not covered now: it stays where it is until it is.
                if owner is not reader:
                    self._owners[channel] = owner
                    moves[reader, owner].append(channel)
            for (old, new), channels in moves.items():
                logger.info("Moving %d shard channels from %s to %s", len(channels), old, new)
                await old.channels_remove(channels)
                await new.channels_add(channels)
            owners = set(self._owners.values())
            for name, reader in list(self._readers.items()):
                if reader not in owners:
                    del self._readers[name]
                    await reader.retire()

    async def close(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        self._owners.clear()
        for confirmed in self._confirmed.values():
            confirmed.cancel()
        self._confirmed.clear()
        for reader in readers:
            await reader.retire()

    def _reader_for(self, channel: bytes) -> NodeReader:
        node = self.cluster.get_node_from_key(channel)
        reader = self._readers.get(node.name)
        if reader is None:
            reader = self._readers[node.name] = NodeReader(node, self)
        return reader


class NodeReader:
    """One primary's subscribing connection, and the task that reads it."""

    def __init__(self, node: ClusterNode, subscriber: ShardedSubscriber) -> None:
        self.name = node.name
        self.channels: set[bytes] = set()
        self._subscriber = subscriber
        self._connection_kwargs = {
            **node.connection_kwargs,
            # RESP2 (redis-py 8 speaks RESP3 by default): messages arrive as plain replies on
            # this reader's own socket, no push handler, so none of RESP3's maintenance
            # notifications either (a dropped node is handled as any other). redis-py's health
            # check would read a reply meant for this task: the reader PINGs itself.
            "protocol": 2,
            "maint_notifications_config": None,
            "oss_cluster_maint_notifications_handler": None,
            "health_check_interval": 0,
            "retry": Retry(NoBackoff(), 0),
        }
        self._connection_class = node.connection_class
        self._connection: Connection | None = None
        self._state = ReaderState.CONNECTING
        # Serialises what goes onto the socket against (re)connecting: a channel added while
        # connecting is in the snapshot the reconnect subscribes, or sent after it.
        self._lock = asyncio.Lock()
        # SUNSUBSCRIBEs we sent and whose reply is still to come; any other is the server's.
        self._unsubscribing: Counter[bytes] = Counter()
        self._task = asyncio.create_task(self._run(), name=f"cluster-subscriber-{self.name}")

    def __str__(self) -> str:
        return self.name

    async def channels_add(self, channels: Iterable[bytes]) -> None:
        channels = list(channels)
        async with self._lock:
            self.channels.update(channels)
            await self._send_by_slot("SSUBSCRIBE", channels)

    async def channels_remove(self, channels: Iterable[bytes]) -> None:
        channels = list(channels)
        async with self._lock:
            self.channels.difference_update(channels)
            if await self._send_by_slot("SUNSUBSCRIBE", channels):
                self._unsubscribing.update(channels)

    async def retire(self) -> None:
        """Stop reading; from the reader's own task (a refresh it ran), it stops on its own."""
        self._state = ReaderState.RETIRED
        if self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        lost = False
        while self._state is not ReaderState.RETIRED:
            connection = self._connection_class(**self._connection_kwargs)
            try:
                await connection.connect()
                # A replica takes SSUBSCRIBE without a word (and even relays its master's
                # messages): right after a failover the slot map read may still name the old
                # master, so make sure this is a primary.
                await connection.send_command("ROLE", check_health=False)
                role = (await connection.read_response())[0]
                if role != b"master":
                    raise ShardMoved(f"{self} is a {role.decode()} now")
                # socket_timeout bounded the handshake; after it, reads carry their own timeout,
                # and a write under one goes through asyncio.wait_for, which on Python 3.11 can
                # swallow the task's cancellation when the write completes at the same moment
                # (CPython gh-86296): a reader that could not be stopped.
                connection.socket_timeout = None
                async with self._lock:
                    self._connection, self._state = connection, ReaderState.SUBSCRIBED
                    self._unsubscribing.clear()
                    await self._send_by_slot("SSUBSCRIBE", self.channels)
                if lost:
                    logger.info("Shard subscriptions on %s renewed", self)
                    lost = False
                await self._read(connection)
            except _TROUBLE as error:
                if self._state is ReaderState.SUBSCRIBED:
                    logger.warning("Shard subscriptions on %s lost (%s), renewing", self, error)
                    lost = True
            except Exception:
                # Not Redis's doing, but a reader that died would lose its channels silently.
                logger.exception("Reading shard subscriptions on %s failed, renewing", self)
            finally:
                if self._state is ReaderState.SUBSCRIBED:
                    self._state = ReaderState.CONNECTING
                self._connection = None
                await connection.disconnect(nowait=True)
            await self._subscriber.topology_refresh()
            if self._state is not ReaderState.RETIRED:
                await asyncio.sleep(RETRY_DELAY)

    async def _read(self, connection: Connection) -> None:
        """The hot path: block on the socket, dispatch each reply."""
        on_message, unsubscribing = self._subscriber.on_message, self._unsubscribing
        ping_sent = False
        while True:
            reply = await connection.read_response(timeout=PING_INTERVAL)
            if reply is None:
                if ping_sent:
                    raise TimeoutError(f"no reply to PING from {self} in {PING_INTERVAL}s")
                await connection.send_command("PING", check_health=False)
                ping_sent = True
                continue
            ping_sent = False
            kind, channel = reply[0], reply[1]
            if kind == b"smessage":
                on_message(channel, reply[2])
            elif kind == b"ssubscribe":
                self._subscriber.confirm(channel)
            elif kind == b"sunsubscribe":
                if not unsubscribing[channel]:
                    raise ShardMoved(f"{self} unsubscribed us from {channel!r}")
                unsubscribing[channel] -= 1
                if not unsubscribing[channel]:
                    del unsubscribing[channel]

    async def _send_by_slot(self, command: str, channels: Iterable[bytes]) -> bool:
        """Write `command` for the channels, one per slot (CROSSSLOT otherwise), in one write;
        False when not connected (the next connection subscribes what is wanted then)."""
        connection = self._connection
        if self._state is not ReaderState.SUBSCRIBED or connection is None:
            return False
        by_slot: defaultdict[int, list[bytes]] = defaultdict(list)
        for channel in channels:
            by_slot[key_slot(channel)].append(channel)
        if not by_slot:
            return True
        # Checked right before writing: redis-py would otherwise reconnect a dropped socket here,
        # behind the reader's back. A write that fails drops it; the reader starts over.
        if not connection.is_connected:
            return False
        packed = connection.pack_commands([(command, *slot) for slot in by_slot.values()])
        try:
            await connection.send_packed_command(packed, check_health=False)
        except _TROUBLE as error:
            logger.debug("%s on %s failed (%s): the reader starts over", command, self, error)
            return False
        return True
