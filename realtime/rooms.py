"""This pod's rooms, and the fan-out of room events to every pod.

The design (README, "Fan-out"): a pod, not each connection, is the member of a room's group on
the channel layer. A room event crosses Redis once per pod; the pod that receives it writes the
same pre-encoded text to each local member's socket, with no per-member channel-layer message.
Local members of the sender's pod get the event directly, so they still reach each other while
Redis is away.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from asgiref.typing import ASGISendCallable
from channels.layers import BaseChannelLayer

from realtime.disconnect import CONNECTION_CLOSE, connection_close_handle
from realtime.membership import LocalMembership, RedisMembership
from realtime.outage import OutageLog
from realtime.protocol import event_frame
from realtime.stats import pod_stats

logger = logging.getLogger(__name__)

ROOM_EVENT = "room.event"
# Most room events a pod forwards in one layer message (one Redis PUBLISH), and most layer
# messages its dispatcher takes from the inbox at once.
FORWARD_BATCH = 64
DISPATCH_BATCH = 64
# Frames the dispatcher writes before it lets the event loop turn. The server sends what was
# written to a socket during one turn in one go (one send, one write registration), so a pod
# that has fallen behind catches up on events for small rooms several to a turn, while a big
# room's delivery still gives the connections a turn after each event.
WRITES_PER_TURN = 1000


class Member(Protocol):
    connection_id: str
    send: ASGISendCallable
    rooms: set[str]
    connected_at: float
    user: Any

    async def close_with(self, code: int) -> None: ...


def room_group(room: str) -> str:
    """The channel-layer group of a room; `group_send(room_group(R), ...)` reaches its members."""
    return f"room.{room}"


class EventQueue:
    """A bounded FIFO between two tasks: when it is full the oldest message is dropped, and its
    events counted, so a pod that cannot keep up sheds load instead of growing without end."""

    def __init__(self, size: int) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=size)
        self.ready = asyncio.Event()
        self.dropped = 0

    def put(self, item: dict[str, Any]) -> None:
        if len(self.items) == self.items.maxlen:
            self.dropped += events_in(self.items[0])
        self.items.append(item)
        self.ready.set()

    async def consume(
        self, handle: Callable[[list[dict[str, Any]]], Awaitable[None]], batch_size: int = 1
    ) -> None:
        """Hand the messages to `handle`, in order, up to `batch_size` at a time, for ever; a
        batch that fails is logged."""
        while True:
            await self.ready.wait()
            while self.items:
                batch = [self.items.popleft() for _ in range(min(batch_size, len(self.items)))]
                try:
                    await handle(batch)
                except Exception:
                    logger.exception("Dropped room events that could not be handled")
                # Let the other tasks and the connections run between two batches.
                await asyncio.sleep(0)
            self.ready.clear()


def events_in(message: dict[str, Any]) -> int:
    """Room events in a layer message: a batch carries `texts`, anything else is one."""
    return len(message.get("texts", ())) or 1


class PodRooms:
    """The rooms of this pod's connections, joined to the layer's groups on their behalf."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        membership_for: Callable[[PodRooms], LocalMembership | RedisMembership],
        pod_name: str,
        inbox_size: int,
    ) -> None:
        self.layer = layer
        self.pod_id = f"{pod_name}.{uuid.uuid4().hex[:8]}"
        self.members: dict[str, dict[str, Member]] = {}
        self.membership = membership_for(self)
        self.channel = ""
        # Events received for local members, and events waiting to go to the other pods.
        self.inbox = EventQueue(inbox_size)
        self.outbox = EventQueue(inbox_size)
        self.connections: dict[str, Member] = {}
        self.draining = False
        self.all_closed = asyncio.Event()
        self.forwarding = OutageLog(logger, "Room events reach this pod only")
        self._receiver: asyncio.Task[None] | None = None
        self._writes_this_turn = 0
        self._workers: list[asyncio.Task[None]] = []

    @property
    def dropped(self) -> int:
        return self.inbox.dropped + self.outbox.dropped

    def connection_add(self, member: Member) -> None:
        self.connections[member.connection_id] = member
        self.all_closed.clear()

    def connection_remove(self, member: Member) -> None:
        self.connections.pop(member.connection_id, None)
        if not self.connections:
            self.all_closed.set()

    def local_counts(self) -> Mapping[str, int]:
        return {room: len(members) for room, members in self.members.items()}

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("pod.")
        self._receiver = asyncio.create_task(self._layer_receive(), name="rooms-receive")
        self._workers = [
            asyncio.create_task(
                self.inbox.consume(self._handle, DISPATCH_BATCH), name="rooms-dispatch"
            ),
            asyncio.create_task(
                self.outbox.consume(self._forward, FORWARD_BATCH), name="rooms-forward"
            ),
        ]
        await self.membership.start()

    async def stop(self) -> None:
        """Leave every room on the layer and in the member counts, at once."""
        for task in (self._receiver, *self._workers):
            if task:
                task.cancel()
        await self.membership.stop()

    async def transport_replace(
        self, layer: BaseChannelLayer, membership: LocalMembership | RedisMembership
    ) -> None:
        """Move every room to another layer: a pod that fell back to memory has reached Redis."""
        if self._receiver:
            self._receiver.cancel()
        await self.membership.stop()
        self.layer, self.membership = layer, membership
        self.channel = await layer.new_channel("pod.")
        for room in self.members:
            await layer.group_add(room_group(room), self.channel)
        self._receiver = asyncio.create_task(self._layer_receive(), name="rooms-receive")
        await membership.start()

    async def join(self, room: str, member: Member) -> None:
        local = self.members.get(room)
        if local is None:
            local = self.members[room] = {}
            await self._layer_call(self.layer.group_add, room)
        local[member.connection_id] = member
        await self.membership.room_changed(room)

    async def leave(self, room: str, member: Member) -> None:
        local = self.members.get(room)
        if local is None or local.pop(member.connection_id, None) is None:
            return
        if not local:
            del self.members[room]
            await self._layer_call(self.layer.group_discard, room)
        await self.membership.room_changed(room)

    async def count(self, room: str) -> int:
        """Members over all pods: this pod's own, exact, plus what the others wrote to Redis."""
        local = len(self.members.get(room, ()))
        try:
            return local + await self.membership.others_count(room)
        except Exception as error:
            logger.warning("Counting members of %s failed (%s): local count only", room, error)
            return local

    async def emit(self, room: str, event: str, data: Any, sender: Member, echo: bool) -> None:
        """Deliver to local members now, then once to the room's group for the other pods."""
        text = event_frame(room, event, data, sender.connection_id)
        skip = None if echo else sender.connection_id
        await self.deliver(room, text, skip)
        # Forwarded by a task of its own, in order: the sender's next frame need not wait for
        # Redis's reply to this PUBLISH.
        self.outbox.put({"room": room, "text": text})

    async def deliver(self, room: str, text: str, skip: str | None = None) -> int:
        """Hand the same frame to each local member's socket: the hot loop of the fan-out.
        Returns how many it was written to."""
        members = self.members.get(room)
        if not members:
            return 0
        frame = {"type": "websocket.send", "text": text}
        delivered = 0
        for connection_id, member in list(members.items()):
            if connection_id != skip:
                await member.send(frame)
                delivered += 1
        pod_stats.messages_out += delivered
        return delivered

    async def _layer_receive(self) -> None:
        """Move what the layer received into the bounded inbox, as fast as it arrives."""
        while True:
            self.inbox.put(await self.layer.receive(self.channel))

    async def _forward(self, outgoing: list[dict[str, Any]]) -> None:
        """Publish what waits in the outbox: one layer message per room, in order.

        Under load events queue up while a PUBLISH waits for Redis; sending them together
        keeps the forwarding rate from being one event per Redis round trip.
        """
        texts_by_room: dict[str, list[str]] = {}
        for event in outgoing:
            texts_by_room.setdefault(event["room"], []).append(event["text"])
        for room, texts in texts_by_room.items():
            message = {"type": ROOM_EVENT, "room": room, "texts": texts, "origin": self.pod_id}
            try:
                await self.layer.group_send(room_group(room), message)
            except Exception as error:
                self.forwarding.failed(error, len(texts))
            else:
                self.forwarding.recovered()

    async def _handle(self, batch: list[dict[str, Any]]) -> None:
        self._writes_this_turn = 0
        for message in batch:
            try:
                await self._dispatch(message)
            except Exception:
                # One bad message (any Channels code may send to a room's group) costs itself.
                logger.exception(
                    "Dropped a %r message that could not be handled", message.get("type")
                )

    async def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == CONNECTION_CLOSE:
            await connection_close_handle(self, message)
        elif message.get("type") == ROOM_EVENT and message.get("origin") != self.pod_id:
            for text in _event_texts(message):
                self._writes_this_turn += await self.deliver(message["room"], text)
                if self._writes_this_turn >= WRITES_PER_TURN:
                    await asyncio.sleep(0)
                    self._writes_this_turn = 0

    async def _layer_call(self, method: Callable[[str, str], Awaitable[None]], room: str) -> None:
        try:
            await method(room_group(room), self.channel)
        except Exception as error:
            logger.warning("Room %s is local to this pod for now: %s", room, error)


def _event_texts(message: dict[str, Any]) -> list[str]:
    """The frames of a room event message: a forwarded batch, one text (`room_emit`), or the
    plain `event` and `data` that any Channels code may send (README, Server-side emit)."""
    if "texts" in message:
        return message["texts"]
    if "text" in message:
        return [message["text"]]
    return [
        event_frame(message["room"], message["event"], message.get("data"), message.get("from"))
    ]
