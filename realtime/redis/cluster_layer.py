"""A Channels channel layer on Redis Cluster: channels_redis has none (django/channels_redis#420).

Modelled on channels_redis's RedisPubSubChannelLayer, over sharded pub/sub (Redis 7): each group
and each channel is a shard channel, so an event crosses only the primary that owns its slot,
and a process keeps its groups itself. SPUBLISH goes through redis-py's RedisCluster, which
follows MOVED and failovers; subscriptions are cluster_subscriber.py's.

One shard channel per group, not groups hashed into a few partition channels, as measured by
bench/cluster_layout.py (3 masters + 3 replicas, 10,000 groups): joining them all takes 1.6 to
2.5 s against 0.14 s with 64 partitions, delivery is back 3 to 4 s after a master's SIGKILL
either way (2.1 to 2.7 s of it the promotion), but with partitions a pod in 100 groups read
9,404 messages where it needed 100: every event of every group sharing a partition with one of
its own.
"""

from __future__ import annotations

import asyncio
import logging
import types
import uuid
import zlib
from typing import Any, ClassVar

import msgpack
from channels.layers import BaseChannelLayer
from redis.asyncio.cluster import ClusterNode, RedisCluster

from realtime.redis.cluster_subscriber import ShardedSubscriber

logger = logging.getLogger(__name__)

# A group message is `group NUL payload` on the wire: with partitions the shard channel does not
# name the group (group names cannot hold a NUL).
_GROUP_END = b"\0"


class RedisClusterChannelLayer(BaseChannelLayer):
    """CHANNEL_LAYERS CONFIG: `nodes` ("host:port" start-up nodes), `prefix`, `partitions`, and
    any keyword argument of redis.asyncio.RedisCluster (username, password, ssl, ...)."""

    extensions: ClassVar[list[str]] = ["groups", "flush"]

    def __init__(
        self, nodes: list[str], prefix: str = "murror", partitions: int = 0, **cluster_kwargs: Any
    ) -> None:
        """`partitions`: 0 for one shard channel per group; N hashes groups into N channels
        `{prefix}:{pK}` (fewer SSUBSCRIBEs, but each process reads and drops the events of
        groups it is not in)."""
        super().__init__()
        if not nodes:
            raise ValueError("expected at least one Redis Cluster node as host:port, got none")
        self.nodes = [_node_address(node) for node in nodes]
        self.prefix = prefix
        self.partitions = partitions
        self.cluster_kwargs = cluster_kwargs
        self._layers: dict[asyncio.AbstractEventLoop, _LoopLayer] = {}

    def serialize(self, message: dict[str, Any]) -> bytes:
        return msgpack.packb(message, use_bin_type=True)

    def deserialize(self, data: bytes) -> dict[str, Any]:
        return msgpack.unpackb(data, raw=False)

    def channel_key(self, channel: str) -> bytes:
        return f"{self.prefix}:channel:{channel}".encode()

    def group_key(self, group: str) -> bytes:
        """The shard channel a group's messages go to."""
        if self.partitions:
            return f"{self.prefix}:{{p{zlib.crc32(group.encode()) % self.partitions}}}".encode()
        return f"{self.prefix}:group:{group}".encode()

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{prefix}{uuid.uuid4().hex}"
        self.require_valid_channel_name(channel)
        await self._loop_layer().channel_open(channel)
        return channel

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        self.require_valid_channel_name(channel)
        await self._loop_layer().publish(self.channel_key(channel), self.serialize(message))

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message on `channel`, subscribing to it first if this process does not yet.

        As in channels_redis's pub/sub layer, a cancelled receive means the consumer is gone:
        the channel is unsubscribed and its queue dropped (there is no delete_channel())."""
        self.require_valid_channel_name(channel, receive=True)
        layer = self._loop_layer()
        if channel not in layer.channels:
            await layer.channel_open(channel)
        try:
            data = await layer.channels[channel].get()
        except asyncio.CancelledError:
            try:
                await layer.channel_close(channel)
            except Exception:
                logger.exception("Unsubscribing %s after its receive was cancelled failed", channel)
            raise
        return self.deserialize(data)

    async def group_add(self, group: str, channel: str) -> None:
        """Returns once a group_send from any process reaches `channel`."""
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        layer = self._loop_layer()
        if channel not in layer.channels:
            raise RuntimeError(
                f"group_add() takes a channel of this process (from new_channel()), got {channel!r}"
            )
        await layer.group_join(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await self._loop_layer().group_leave(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.require_valid_group_name(group)
        payload = group.encode() + _GROUP_END + self.serialize(message)
        await self._loop_layer().publish(self.group_key(group), payload)

    async def flush(self) -> None:
        """Forget this event loop's channels and groups and close its connections; the layer
        stays usable and connects again on the next call."""
        layer = self._layers.get(asyncio.get_running_loop())
        if layer is not None:
            await layer.close()

    def _loop_layer(self) -> _LoopLayer:
        """The state of the running event loop: redis-py's connections belong to one loop, and
        async_to_sync runs each call in a loop of its own."""
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            startup_nodes = [ClusterNode(host, port) for host, port in self.nodes]
            cluster = RedisCluster(startup_nodes=startup_nodes, **self.cluster_kwargs)
            layer = self._layers[loop] = _LoopLayer(self, cluster)
            _flush_on_close(self, loop)
        return layer


class _LoopLayer:
    """One event loop's cluster client, subscriber, channel queues and groups."""

    def __init__(self, owner: RedisClusterChannelLayer, cluster: RedisCluster) -> None:
        self.owner = owner
        self.cluster = cluster
        self.subscriber = ShardedSubscriber(cluster, self._message_route)
        self.channels: dict[str, asyncio.Queue[bytes]] = {}
        # Shard channel -> the channel of this process it carries.
        self.channel_keys: dict[bytes, str] = {}
        self.groups: dict[str, set[str]] = {}
        # Shard channel of groups -> how many of this process's groups it carries (partitions).
        self.group_keys: dict[bytes, int] = {}

    async def publish(self, key: bytes, payload: bytes) -> None:
        # Initialised first: on a fresh client (redis-py 8.1), SPUBLISHes sent together with the
        # one that initialises it failed with "Connection closed" and redis-py sent them again:
        # some messages arrived twice.
        await self.cluster.initialize()
        await self.cluster.spublish(key, payload)

    async def channel_open(self, channel: str) -> None:
        key = self.owner.channel_key(channel)
        self.channels.setdefault(channel, asyncio.Queue())
        self.channel_keys[key] = channel
        await self.subscriber.subscribe(key)

    async def channel_close(self, channel: str) -> None:
        if self.channels.pop(channel, None) is not None:
            key = self.owner.channel_key(channel)
            del self.channel_keys[key]
            await self.subscriber.unsubscribe(key)

    async def group_join(self, group: str, channel: str) -> None:
        key = self.owner.group_key(group)
        members = self.groups.get(group)
        if members is None:
            members = self.groups[group] = set()
            self.group_keys[key] = self.group_keys.get(key, 0) + 1
        members.add(channel)
        # Even when the group was known: its SSUBSCRIBE may not be confirmed yet.
        await self.subscriber.subscribe(key)

    async def group_leave(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is None or channel not in members:
            return
        members.discard(channel)
        if members:
            return
        del self.groups[group]
        key = self.owner.group_key(group)
        self.group_keys[key] -= 1
        if not self.group_keys[key]:
            del self.group_keys[key]
            await self.subscriber.unsubscribe(key)

    async def close(self) -> None:
        """Close the connections; the next call opens them again (RedisCluster initialises
        itself once more)."""
        self.channels.clear()
        self.channel_keys.clear()
        self.groups.clear()
        self.group_keys.clear()
        await self.subscriber.close()
        await self.cluster.aclose()

    def _message_route(self, key: bytes, data: bytes) -> None:
        """Queue a message for the local channels it is for (the hot path of receiving)."""
        channel = self.channel_keys.get(key)
        if channel is not None:
            targets: Any = (channel,)
        else:
            group, _, data = data.partition(_GROUP_END)
            targets = self.groups.get(group.decode(), ())
        for channel in targets:
            queue = self.channels.get(channel)
            if queue is not None:
                queue.put_nowait(data)


def _node_address(node: str) -> tuple[str, int]:
    host, sep, port = node.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected a Redis Cluster node as host:port, got {node!r}")
    return host.strip("[]"), int(port)


def _flush_on_close(owner: RedisClusterChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
    """Close a loop's connections when the loop closes, as channels_redis does: async_to_sync's
    loops would otherwise each leave a cluster client open."""
    close = loop.close

    def close_flushed(self: asyncio.AbstractEventLoop) -> None:
        layer = owner._layers.pop(loop, None)
        if layer is not None:
            loop.run_until_complete(layer.close())
        self.close = close
        close()

    loop.close = types.MethodType(close_flushed, loop)
