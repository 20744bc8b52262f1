"""One WebSocket connection at /ws/: frames in, replies and room events out.

A plain ASGI consumer rather than AsyncWebsocketConsumer, on purpose: that class subscribes
every connection to its own channel-layer channel (one Redis SUBSCRIBE per socket with the
pub/sub layer) and sends every frame through a thread pool to close stale database
connections. A room connection needs neither: its pod receives room events for it (the hub)
and it never touches the database.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketScope

from realtime.access.addresses import client_address
from realtime.access.admission import connection_admit
from realtime.access.origins import origin_allowed
from realtime.access.users import ConnectionUser
from realtime.pod.lifecycle import Pod, pod_serving
from realtime.pod.slow_readers import ReaderWatch, reader_watch
from realtime.protocols.closecodes import CloseCode, websocket_close
from realtime.protocols.handlers import HandlerConnection, handler_for, handler_names
from realtime.protocols.rules import ErrorCode, ProtocolError, rate_limited
from realtime.protocols.session import Session, SessionState
from realtime.protocols.ws.codec import (
    WS_ENCODER,
    ClientMessage,
    Emit,
    HandlerCall,
    Join,
    Leave,
    Members,
    Ping,
    error_frame,
    frame_encode,
    frame_parse,
)

logger = logging.getLogger(__name__)

WEBSOCKET_PATH = "/ws/"


class WsConnection(Session):
    """A /ws/ client: its frames are JSON text, its room events the `event` frame."""

    __slots__ = ("reader", "send")
    protocol = "ws"
    encoder = WS_ENCODER

    def __init__(
        self,
        send: ASGISendCallable,
        pod: Pod,
        user: ConnectionUser | None,
        address: str | None = None,
    ) -> None:
        super().__init__(pod, user, address)
        self.send = send
        self.reader: ReaderWatch | None = None

    async def deliver(self, encoded: Any) -> None:
        await self.send(encoded)

    async def send_text(self, text: str) -> None:
        self.pod.counters.messages_out += 1
        await self.send({"type": "websocket.send", "text": text})  # type: ignore[typeddict-item]

    def reading_stopped(self, now: float, seconds: float) -> bool:
        return self.reader is not None and self.reader.stuck(now, seconds)

    async def close(self, code: int) -> None:
        """Ask the server to close the socket; its disconnect event then ends the consumer."""
        self.state = SessionState.CLOSING
        await websocket_close(self.send, code)

    async def frame_receive(self, text: str | None, binary: bytes | None) -> None:
        """Handle one client frame; a broken rule is answered, never raised."""
        allowed = self.message_allowed()
        message_id = None
        try:
            limit = self.pod.config.max_frame_bytes
            message = frame_parse(text, binary, limit, handler_names())
            message_id = message.id
            if not allowed:
                raise rate_limited(message.id)
            await self._handle(message)
        except ProtocolError as error:
            if not allowed and error.code is not ErrorCode.RATE_LIMITED:
                error = rate_limited(error.message_id)
            self.error_counted(error.code)
            await self.send_text(error_frame(error))
        except Exception:
            # A bug of ours must cost one reply, not the connection or the pod.
            logger.exception("Internal error handling a frame on %s", self.connection_id)
            self.error_counted(ErrorCode.INTERNAL_ERROR)
            internal = ProtocolError(ErrorCode.INTERNAL_ERROR, "the server failed", message_id)
            await self.send_text(error_frame(internal))

    async def _handle(self, message: ClientMessage) -> None:
        reply: dict[str, Any]
        match message:
            case Join(room=room):
                reply = {"type": "joined", "room": await self.room_join(room, message.id)}
            case Leave(room=room):
                await self.room_leave(room)
                reply = {"type": "left", "room": room}
            case Members(room=room):
                count = await self.room_members(room, message.id)
                reply = {"type": "members", "room": room, "count": count}
            case Emit(room=room):
                await self.room_emit(room, message.event, message.data, message.echo, message.id)
                if message.id is None:
                    return
                reply = {"type": "ack"}
            case Ping():
                reply = {"type": "pong"}
            case HandlerCall(name=name, data=data):
                handler = handler_for(name)
                assert handler is not None  # frame_parse reads only registered names as calls
                connection = HandlerConnection(
                    self.connection_id, self.user, frozenset(self.room_names), self.protocol
                )
                reply = {"type": "reply", "data": await handler(connection, data)}
        await self.send_text(frame_encode(reply, message.id))


async def ws_consumer(
    scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    """The ASGI application for WebSockets: /ws/ only."""
    connection = await _connection_open(dict(scope), receive, send)
    if connection is None:
        return
    try:
        await connection.send_text(frame_encode({"type": "welcome", **connection.welcome()}))
        while True:
            event = await receive()
            if event["type"] == "websocket.receive":
                await connection.frame_receive(event.get("text"), event.get("bytes"))
            elif event["type"] == "websocket.disconnect":
                break
    finally:
        await connection.closed()


async def _connection_open(
    scope: dict[str, Any], receive: ASGIReceiveCallable, send: ASGISendCallable
) -> WsConnection | None:
    """The handshake: refuse (HTTP 403), close with a code, or accept and register.

    A function of its own so that what the handshake needed is freed once it is done, not kept
    by every idle connection's frame.
    """
    if (await receive())["type"] != "websocket.connect":
        return None
    pod = await pod_serving()
    if scope["path"] != WEBSOCKET_PATH or not origin_allowed(scope, pod.config.origin_hosts):
        await websocket_close(send, CloseCode.NORMAL)
        return None
    admission = await connection_admit(scope, pod.config)
    connection = WsConnection(
        send, pod, admission.user, client_address(scope, pod.config.trusted_proxies)
    )
    await send({"type": "websocket.accept", "subprotocol": admission.subprotocol, "headers": []})
    if admission.refused:
        await connection.close(CloseCode.UNAUTHORIZED)
        return None
    if pod.draining:
        await connection.close(CloseCode.SERVICE_RESTART)
        return None
    if refusal := pod.connection_refusal(connection.address):
        await connection.close(refusal)
        return None
    connection.reader = reader_watch(send)
    connection.opened()
    return connection
