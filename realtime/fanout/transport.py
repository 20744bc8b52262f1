"""A Channels channel layer as the hub's Transport: channels_redis's pub/sub layer between pods,
or the in-memory layer for one pod.

The pod, not each connection, is the member of a room's group: one channel per pod, so a room
event crosses Redis once per pod (docs/architecture.md). Plain Channels code that sends to
`room_group(R)` reaches the same pods.
"""

from __future__ import annotations

from typing import Any

from channels.layers import BaseChannelLayer

from realtime.fanout.types import RoomEvent
from realtime.fanout.wire import events_message
from realtime.redis.keys import POD_CHANNEL_PREFIX, room_group


class ChannelLayerTransport:
    def __init__(self, layer: BaseChannelLayer, name: str) -> None:
        self.layer = layer
        self.name = name
        self.channel = ""

    async def open(self) -> None:
        self.channel = await self.layer.new_channel(POD_CHANNEL_PREFIX)

    async def room_subscribe(self, room: str) -> None:
        await self.layer.group_add(room_group(room), self.channel)

    async def room_unsubscribe(self, room: str) -> None:
        await self.layer.group_discard(room_group(room), self.channel)

    async def events_publish(self, room: str, events: list[RoomEvent], origin: str | None) -> None:
        await self.layer.group_send(room_group(room), events_message(room, events, origin))

    async def receive(self) -> dict[str, Any]:
        return await self.layer.receive(self.channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self.layer.send(channel, message)
