"""This pod's rooms, and the fan-out of room events to every member on every pod.

The design (docs/architecture.md): a pod, not each connection, is the member of a room's group
on the transport. A room event crosses Redis once per pod; the pod that receives it encodes it
once per protocol present in the room and writes the same encoded frame to each local member
of that protocol, with no per-member transport message. Local members of the sender's pod get
the event directly, so they still reach each other while Redis is away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from realtime.fanout import wire
from realtime.fanout.queue import EventQueue
from realtime.fanout.types import Encoder, FailureLog, Member, Membership, RoomEvent, Transport
from realtime.tasks import tasks_cancel

logger = logging.getLogger(__name__)

# Most room events a pod forwards in one transport message (one Redis PUBLISH), and most
# transport messages its dispatcher takes from the inbox at once.
FORWARD_BATCH = 64
DISPATCH_BATCH = 64
# Frames the dispatcher writes before it lets the event loop turn. The server sends what was
# written to a socket during one turn in one go (one send, one write registration), so a pod
# that has fallen behind catches up on events for small rooms several to a turn, while a big
# room's delivery still gives the connections a turn after each event.
WRITES_PER_TURN = 1000
# How long a stopping pod may spend leaving its rooms on the transport.
LEAVE_TIMEOUT = 5.0

MessageHandler = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class FanoutCounters:
    """What the hub counts; the pod's /metrics and stats read them."""

    delivered: int = 0
    delivery_failures: int = 0
    unreadable: int = 0


class Hub:
    """The rooms of this pod's members, subscribed on the transport on their behalf.

    Started with a transport and a membership (`start`), which a pod that reaches Redis after
    falling back swaps for others (`transport_replace`).
    """

    def __init__(self, pod_id: str, inbox_size: int, forwarding: FailureLog) -> None:
        self.pod_id = pod_id
        self.rooms: dict[str, dict[str, Member]] = {}
        self.transport: Transport | None = None
        self.membership: Membership | None = None
        # Transport messages received for local members, and events waiting to go to the others.
        self.inbox: EventQueue[dict[str, Any]] = EventQueue(inbox_size, wire.events_in)
        self.outbox: EventQueue[RoomEvent] = EventQueue(inbox_size)
        self.forwarding = forwarding
        self.counters = FanoutCounters()
        self.handlers: dict[str, MessageHandler] = {wire.ROOM_EVENT: self._room_event_handle}
        self._receiver: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._writes_this_turn = 0

    @property
    def dropped(self) -> int:
        return self.inbox.dropped + self.outbox.dropped

    @property
    def channel(self) -> str:
        """This pod's own channel on the transport: messages for the pod itself arrive there."""
        return self.transport.channel if self.transport else ""

    def handler_add(self, message_type: str, handler: MessageHandler) -> None:
        """Handle transport messages of `message_type` sent to this pod's channel."""
        self.handlers[message_type] = handler

    def local_counts(self) -> Mapping[str, int]:
        return {room: len(members) for room, members in self.rooms.items()}

    async def start(self, transport: Transport, membership: Membership) -> None:
        await self._transport_use(transport, membership)
        self._workers = [
            asyncio.create_task(
                self.inbox.consume(self._messages_handle, DISPATCH_BATCH), name="hub-dispatch"
            ),
            asyncio.create_task(
                self.outbox.consume(self._forward, FORWARD_BATCH), name="hub-forward"
            ),
        ]

    async def stop(self) -> None:
        """Stop the tasks, then leave every room on the transport and in the member counts."""
        await tasks_cancel([self._receiver, *self._workers])
        transport = self.transport
        if transport is not None:
            try:
                async with asyncio.timeout(LEAVE_TIMEOUT):
                    for room in self.rooms:
                        await transport.room_unsubscribe(room)
            except Exception as error:
                logger.warning("Leaving the rooms on the transport failed: %s", error)
        if self.membership is not None:
            await self.membership.stop()

    async def transport_replace(self, transport: Transport, membership: Membership) -> None:
        """Move every room to another transport: a pod that fell back to memory reached Redis."""
        await tasks_cancel([self._receiver])
        if self.membership is not None:
            await self.membership.stop()
        await self._transport_use(transport, membership)

    async def join(self, room: str, member: Member) -> None:
        local = self.rooms.get(room)
        if local is None:
            local = self.rooms[room] = {}
            await self._subscription_change(room, subscribe=True)
        local[member.connection_id] = member
        await self._membership().room_changed(room)

    async def leave(self, room: str, member: Member) -> None:
        local = self.rooms.get(room)
        if local is None or local.pop(member.connection_id, None) is None:
            return
        if not local:
            del self.rooms[room]
            await self._subscription_change(room, subscribe=False)
        await self._membership().room_changed(room)

    async def count(self, room: str) -> int:
        """Members over all pods: this pod's own, exact, plus what the others wrote to Redis."""
        local = len(self.rooms.get(room, ()))
        try:
            return local + await self._membership().others_count(room)
        except Exception as error:
            logger.warning("Counting members of %s failed (%s): local count only", room, error)
            return local

    async def publish(self, event: RoomEvent, skip: str | None = None) -> None:
        """The one way a room event starts: local members now (but `skip`), then once to the
        room's group for the other pods."""
        await self.deliver(event, skip)
        # Forwarded by a task of its own, in order: the sender's next frame need not wait for
        # Redis's reply to this PUBLISH.
        self.outbox.put(event)

    async def deliver(self, event: RoomEvent, skip: str | None = None) -> int:
        """Hand the event to each local member, encoded once per protocol: the hot loop of the
        fan-out. A member whose delivery fails costs only itself. Returns how many got it."""
        members = self.rooms.get(event.room)
        if not members:
            return 0
        encoded: dict[Encoder, Any] = {}
        last_encoder: Encoder | None = None
        frame: Any = None
        delivered = failures = 0
        first_failure: BaseException | None = None
        for connection_id, member in list(members.items()):
            if connection_id == skip:
                continue
            encoder = member.encoder
            if encoder is not last_encoder:
                frame = encoded.get(encoder)
                if frame is None:
                    frame = encoded[encoder] = encoder.encode(event)
                last_encoder = encoder
            try:
                await member.deliver(frame)
            except Exception as error:
                failures += 1
                first_failure = first_failure or error
            else:
                delivered += 1
        self.counters.delivered += delivered
        if failures:
            self.counters.delivery_failures += failures
            logger.warning(
                "Delivery to %d of %d members of room %s failed (first: %r)",
                failures,
                failures + delivered,
                event.room,
                first_failure,
            )
        return delivered

    async def _transport_use(self, transport: Transport, membership: Membership) -> None:
        self.transport, self.membership = transport, membership
        await transport.open()
        for room in self.rooms:
            await self._subscription_change(room, subscribe=True)
        self._receiver = asyncio.create_task(self._transport_receive(), name="hub-receive")
        await membership.start()

    async def _transport_receive(self) -> None:
        """Move what the transport received into the bounded inbox, as fast as it arrives."""
        transport = self._transport()
        while True:
            self.inbox.put(await transport.receive())

    async def _forward(self, outgoing: list[RoomEvent]) -> None:
        """Publish what waits in the outbox: one transport message per room, in order.

        Under load events queue up while a PUBLISH waits for Redis; sending them together
        keeps the forwarding rate from being one event per Redis round trip.
        """
        by_room: dict[str, list[RoomEvent]] = {}
        for event in outgoing:
            by_room.setdefault(event.room, []).append(event)
        transport = self._transport()
        for room, events in by_room.items():
            try:
                await transport.events_publish(room, events, self.pod_id)
            except Exception as error:
                self.forwarding.failed(error, len(events))
            else:
                self.forwarding.recovered()

    async def _messages_handle(self, batch: list[dict[str, Any]]) -> None:
        self._writes_this_turn = 0
        for message in batch:
            handler = self.handlers.get(message.get("type", ""))
            if handler is None:
                self.counters.unreadable += 1
                logger.debug("Ignored a transport message of type %r", message.get("type"))
                continue
            try:
                await handler(message)
            except wire.UnreadableMessage as error:
                self.counters.unreadable += 1
                logger.warning("Dropped a room event message this pod cannot read: %s", error)
            except Exception:
                # One bad message (any Channels code may send to a room's group) costs itself.
                logger.exception("Dropped a %r message that could not be handled", message["type"])

    async def _room_event_handle(self, message: dict[str, Any]) -> None:
        if message.get("origin") == self.pod_id:
            return  # delivered to this pod's members when it was published
        for event in wire.events_read(message):
            self._writes_this_turn += await self.deliver(event)
            if self._writes_this_turn >= WRITES_PER_TURN:
                await asyncio.sleep(0)
                self._writes_this_turn = 0

    async def _subscription_change(self, room: str, subscribe: bool) -> None:
        transport = self._transport()
        try:
            if subscribe:
                await transport.room_subscribe(room)
            else:
                await transport.room_unsubscribe(room)
        except Exception as error:
            logger.warning("Room %s is local to this pod for now: %s", room, error)

    def _transport(self) -> Transport:
        if self.transport is None:
            raise RuntimeError("the hub has not been started")
        return self.transport

    def _membership(self) -> Membership:
        if self.membership is None:
            raise RuntimeError("the hub has not been started")
        return self.membership
