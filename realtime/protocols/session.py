"""A client connection whatever its protocol: its id, user, rooms and rate bucket, and what it
may do in rooms. A protocol subclasses Session with its wire: an encoder for room events, and
how to deliver a frame and close (the fan-out core's Member)."""

from __future__ import annotations

import enum
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from realtime.access.rooms import RoomAction, room_allowed, room_check_needed
from realtime.access.users import ConnectionUser
from realtime.fanout.types import Encoder
from realtime.protocols.rate_limit import TokenBucket
from realtime.protocols.rules import ErrorCode, MessageId, ProtocolError, room_event_make

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod


class SessionState(enum.Enum):
    OPEN = "open"  # accepted and registered with the pod
    CLOSING = "closing"  # the server asked for the close; the transport has not gone yet
    CLOSED = "closed"  # gone: out of every room and of the pod's open connections


class Session:
    """One client of this pod. Thousands live per pod: slots keep each one small
    (docs/performance.md, idle memory)."""

    __slots__ = (
        "address",
        "bucket",
        "connected_at",
        "connection_id",
        "pod",
        "room_names",
        "state",
        "user",
    )
    protocol: ClassVar[str]
    encoder: ClassVar[Encoder]

    def __init__(
        self, pod: Pod, user: ConnectionUser | None = None, address: str | None = None
    ) -> None:
        self.connection_id = uuid.uuid4().hex
        # For REALTIME_MAX_CONNECTIONS_PER_ADDRESS (realtime.access.addresses).
        self.address = address
        self.connected_at = time.time()
        self.user = user
        self.pod = pod
        self.room_names: set[str] = set()
        self.bucket = TokenBucket(pod.config.rate, pod.config.burst)
        self.state = SessionState.OPEN

    async def deliver(self, encoded: Any) -> None:
        raise NotImplementedError

    async def close(self, code: int) -> None:
        raise NotImplementedError

    def reading_stopped(self, now: float, seconds: float) -> bool:
        """Has the client not taken what it was sent for `seconds`? (Only where the server lets
        a pod see it: realtime.pod.slow_readers.)"""
        return False

    def welcome(self) -> dict[str, Any]:
        """What a client is told first: its id, the pod, the layer, and its user if known."""
        welcome = {
            "connection_id": self.connection_id,
            "pod": self.pod.config.pod_name,
            "layer": self.pod.layer.value,
        }
        if self.user:
            welcome["user"] = self.user.username
        return welcome

    def opened(self) -> None:
        self.pod.connection_add(self)

    async def closed(self) -> None:
        """The transport is gone: leave every room and the pod's open connections."""
        self.state = SessionState.CLOSED
        self.pod.connection_remove(self)
        await self.rooms_leave_all()

    async def rooms_leave_all(self) -> None:
        for room in list(self.room_names):
            await self.pod.hub.leave(room, self)
        self.room_names.clear()

    def message_allowed(self) -> bool:
        """Count one client message against the rate bucket; False when it is over the rate."""
        self.pod.counters.message_received(self.protocol)
        return self.bucket.take()

    def error_counted(self, code: ErrorCode) -> None:
        self.pod.counters.errors[code.value] += 1

    async def room_access_check(
        self, room: str, action: RoomAction, message_id: MessageId = None
    ) -> None:
        """Raise `forbidden` unless the token's grants and the room authorizer allow it."""
        authorizer = self.pod.config.room_authorizer
        if not room_check_needed(self.user, authorizer):
            return
        if not await room_allowed(self.user, room, action, authorizer):
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"not allowed to {action} in room {room!r}", message_id
            )

    async def room_join(self, room: str, message_id: MessageId = None) -> str:
        await self.room_access_check(room, RoomAction.JOIN, message_id)
        # Interned: the thousands of members of a room share one copy of its name.
        room = sys.intern(room)
        limit = self.pod.config.max_rooms
        if room not in self.room_names and len(self.room_names) >= limit:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS,
                f"a connection may be in at most {limit} rooms",
                message_id,
            )
        self.room_names.add(room)
        self.pod.counters.joins += 1
        await self.pod.hub.join(room, self)
        return room

    async def room_leave(self, room: str) -> None:
        self.room_names.discard(room)
        await self.pod.hub.leave(room, self)

    async def room_members(self, room: str, message_id: MessageId = None) -> int:
        await self.room_access_check(room, RoomAction.MEMBERS, message_id)
        return await self.pod.hub.count(room)

    async def room_emit(
        self, room: str, event: str, data: Any, echo: bool, message_id: MessageId = None
    ) -> None:
        """Publish to every member of `room` on every pod, this connection too unless `echo`
        is false; only a member may."""
        if room not in self.room_names:
            raise ProtocolError(
                ErrorCode.NOT_IN_ROOM, f"join {room!r} before emitting to it", message_id
            )
        await self.room_access_check(room, RoomAction.EMIT, message_id)
        try:
            room_event = room_event_make(room, event, data, self.connection_id)
        except ProtocolError as error:
            error.message_id = message_id
            raise
        await self.pod.hub.publish(room_event, skip=None if echo else self.connection_id)
