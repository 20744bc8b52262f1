"""One WebSocket connection at /ws/: frames in, replies and room events out.

A plain ASGI consumer rather than AsyncWebsocketConsumer, on purpose: that class subscribes
every connection to its own channel-layer channel (one Redis SUBSCRIBE per socket with the
pub/sub layer) and sends every frame through a thread pool to close stale database
connections. A room connection needs neither: its pod receives room events for it (realtime.rooms)
and it never touches the database.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketScope
from django.conf import settings

from realtime.access import UNAUTHORIZED, ConnectionUser, connection_admit, origin_allowed
from realtime.layers import layer_status
from realtime.pod import pod_rooms
from realtime.protocol import (
    ClientMessage,
    Emit,
    ErrorCode,
    Join,
    Leave,
    Members,
    Ping,
    ProtocolError,
    frame_encode,
    frame_parse,
)
from realtime.rate_limit import TokenBucket
from realtime.rooms import PodRooms
from realtime.stats import pod_stats

logger = logging.getLogger(__name__)


class RoomConnection:
    """The state of one client: its id, its rooms, its rate limit."""

    # Thousands live per pod: slots keep each one small (README, Performance: idle memory).
    __slots__ = ("bucket", "connected_at", "connection_id", "pod", "rooms", "send", "user")

    def __init__(
        self, send: ASGISendCallable, rooms: PodRooms, user: ConnectionUser | None = None
    ) -> None:
        self.connection_id = uuid.uuid4().hex
        self.connected_at = time.time()
        self.user = user
        self.send = send
        self.pod = rooms
        self.rooms: set[str] = set()
        self.bucket = TokenBucket(settings.REALTIME_RATE, settings.REALTIME_BURST)

    def welcome_frame(self) -> str:
        welcome = {
            "type": "welcome",
            "connection_id": self.connection_id,
            "pod": settings.POD_NAME,
            "layer": layer_status().name.value,
        }
        if self.user:
            welcome["user"] = self.user.username
        return frame_encode(welcome)

    async def send_text(self, text: str) -> None:
        pod_stats.messages_out += 1
        await self.send({"type": "websocket.send", "text": text})  # type: ignore[typeddict-item]

    async def close_with(self, code: int) -> None:
        """Ask the server to close the socket; its disconnect event then ends the consumer."""
        try:
            await self.send({"type": "websocket.close", "code": code, "reason": ""})
        except Exception:
            # autobahn, under daphne, refuses to send any code but 1000 and 3000-4999
            # (WebSocketProtocol.sendClose): 1012 goes out as 4012, its twin in the private range.
            if code != SERVICE_RESTART:
                raise
            await self.send({"type": "websocket.close", "code": SERVICE_RESTART_PRIVATE})

    async def frame_receive(self, text: str | None, binary: bytes | None) -> None:
        """Handle one client frame; a broken rule is answered, never raised."""
        pod_stats.messages_in += 1
        allowed = self.bucket.take()
        try:
            message = frame_parse(text, binary, settings.REALTIME_MAX_FRAME_BYTES)
            if not allowed:
                raise ProtocolError(ErrorCode.RATE_LIMITED, _RATE_MESSAGE, message.id)
            await self._handle(message)
        except ProtocolError as error:
            if not allowed and error.code is not ErrorCode.RATE_LIMITED:
                error = ProtocolError(ErrorCode.RATE_LIMITED, _RATE_MESSAGE, error.message_id)
            pod_stats.errors[error.code.value] += 1
            await self.send_text(error.frame())
        except Exception:
            # A bug of ours must cost one reply, not the connection or the pod.
            logger.exception("Internal error handling a frame on %s", self.connection_id)
            pod_stats.errors[_INTERNAL_ERROR["code"]] += 1
            await self.send_text(frame_encode(_INTERNAL_ERROR))

    async def close(self) -> None:
        self.pod.connection_remove(self)
        for room in list(self.rooms):
            await self.pod.leave(room, self)
        self.rooms.clear()

    async def _handle(self, message: ClientMessage) -> None:
        reply: dict[str, Any]
        match message:
            case Join():
                # Interned: the thousands of members of a room share one copy of its name.
                room = sys.intern(message.room)
                if room not in self.rooms and len(self.rooms) >= settings.REALTIME_MAX_ROOMS:
                    raise ProtocolError(
                        ErrorCode.TOO_MANY_ROOMS,
                        f"a connection may be in at most {settings.REALTIME_MAX_ROOMS} rooms",
                        message.id,
                    )
                self.rooms.add(room)
                pod_stats.joins += 1
                await self.pod.join(room, self)
                reply = {"type": "joined", "room": room}
            case Leave(room=room):
                self.rooms.discard(room)
                await self.pod.leave(room, self)
                reply = {"type": "left", "room": room}
            case Members(room=room):
                reply = {"type": "members", "room": room, "count": await self.pod.count(room)}
            case Emit(room=room):
                if room not in self.rooms:
                    raise ProtocolError(
                        ErrorCode.NOT_IN_ROOM, f"join {room!r} before emitting to it", message.id
                    )
                await self.pod.emit(room, message.event, message.data, self, message.echo)
                if message.id is None:
                    return
                reply = {"type": "ack"}
            case Ping():
                reply = {"type": "pong"}
        await self.send_text(frame_encode(reply, message.id))


WEBSOCKET_PATH = "/ws/"
SERVICE_RESTART = 1012  # IANA "Service Restart": this pod is going away, reconnect elsewhere
SERVICE_RESTART_PRIVATE = 4012
_RATE_MESSAGE = "too many messages: slow down"
_INTERNAL_ERROR = {"type": "error", "code": "internal_error", "message": "the server failed"}


async def room_consumer(
    scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    """The ASGI application for WebSockets: /ws/ only."""
    connection = await _connection_open(dict(scope), receive, send)
    if connection is None:
        return
    try:
        await connection.send_text(connection.welcome_frame())
        while True:
            event = await receive()
            if event["type"] == "websocket.receive":
                await connection.frame_receive(event.get("text"), event.get("bytes"))
            elif event["type"] == "websocket.disconnect":
                break
    finally:
        pod_stats.connection_closed()
        await connection.close()


async def _connection_open(
    scope: dict[str, Any], receive: ASGIReceiveCallable, send: ASGISendCallable
) -> RoomConnection | None:
    """The handshake: refuse (HTTP 403), close with a code, or accept and register.

    A function of its own so that what the handshake needed is freed once it is done, not kept
    by every idle connection's frame.
    """
    if (await receive())["type"] != "websocket.connect":
        return None
    if scope["path"] != WEBSOCKET_PATH or not origin_allowed(scope):
        await send({"type": "websocket.close", "code": 1000, "reason": ""})
        return None
    rooms = await pod_rooms()
    admission = await connection_admit(scope)
    connection = RoomConnection(send, rooms, admission.user)
    await send({"type": "websocket.accept", "subprotocol": admission.subprotocol, "headers": []})
    if admission.refused:
        await connection.close_with(UNAUTHORIZED)
        return None
    if rooms.draining:
        await connection.close_with(SERVICE_RESTART)
        return None
    rooms.connection_add(connection)
    pod_stats.connection_opened()
    return connection
