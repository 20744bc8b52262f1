"""One Socket.IO connection (namespace "/"): its events in, acks and room events out.

The events of the /ws/ protocol's requests, with the answer in the ack callback:

    socket.emit("join", "lobby", ack)            ack({"type": "joined", "room": "lobby"})
    socket.emit("emit", {room, event, data}, ack) ack({"type": "ack"})

A broken rule is the /ws/ error object, in the ack when the client gave one, else as the event
`error`. Any other name goes to a server-side handler of that name, or is `unknown_type`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from realtime.access.users import ConnectionUser
from realtime.protocols.closecodes import CloseCode
from realtime.protocols.handlers import HandlerConnection, handler_for
from realtime.protocols.rules import (
    ErrorCode,
    ProtocolError,
    event_name_check,
    kind,
    rate_limited,
    room_name_check,
)
from realtime.protocols.session import Session, SessionState
from realtime.protocols.socketio.socketio_codec import (
    SIO_ENCODER,
    SioFrame,
    ack_packet,
    disconnect_packet,
    event_packet,
)

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod
    from realtime.protocols.socketio.engine import EngineSession

logger = logging.getLogger(__name__)


class SioConnection(Session):
    """A Socket.IO client of this pod, on whatever Engine.IO transport its session has now."""

    __slots__ = ("engine",)
    protocol = "socketio"
    encoder = SIO_ENCODER

    def __init__(self, engine: EngineSession, pod: Pod, user: ConnectionUser | None) -> None:
        super().__init__(pod, user, engine.address)
        self.engine = engine

    async def deliver(self, encoded: SioFrame) -> None:
        engine = self.engine
        if engine.ws_send is not None:
            await engine.ws_send(encoded.message)
        elif not engine.closed:
            await engine.buffer_add(encoded.text)

    async def send_packet(self, text: str) -> None:
        self.pod.counters.messages_out += 1
        await self.engine.send(text)

    def reading_stopped(self, now: float, seconds: float) -> bool:
        reader = self.engine.reader
        return reader is not None and reader.stuck(now, seconds)

    async def close(self, code: int) -> None:
        """Staff: DISCONNECT, so the client stays away; anything else (a drain): the transport
        closes and the client reconnects by itself."""
        self.state = SessionState.CLOSING
        if code == CloseCode.CLOSED_BY_STAFF:
            await self.send_packet(disconnect_packet())
        await self.engine.close(f"closed by the server ({code})", code, linger=True)

    async def event_receive(self, args: list[Any], ack_id: int | None) -> None:
        """One EVENT from the client; a broken rule is answered, never raised."""
        allowed = self.message_allowed()
        try:
            if not allowed:
                raise rate_limited()
            reply = await self._event_handle(args[0], args[1:])
            # Encoded here: a handler's value JSON cannot carry is our error, not the client's.
            answer = ack_packet(ack_id, reply) if ack_id is not None else None
        except ProtocolError as error:
            await self.error_send(error, ack_id)
        except Exception:
            # A bug of ours, or of a handler, costs one answer, never the connection.
            logger.exception("Internal error handling an event on %s", self.connection_id)
            await self.error_send(
                ProtocolError(ErrorCode.INTERNAL_ERROR, "the server failed"), ack_id
            )
        else:
            if answer is not None:
                await self.send_packet(answer)

    async def error_send(self, error: ProtocolError, ack_id: int | None = None) -> None:
        """A broken rule: the error object in the ack when there is one, else as `error`."""
        self.error_counted(error.code)
        if ack_id is not None:
            await self.send_packet(ack_packet(ack_id, error.body()))
        else:
            await self.send_packet(event_packet("error", error.body()))

    async def _event_handle(self, name: str, args: list[Any]) -> Any:
        first = args[0] if args else None
        if name == "join":
            return {"type": "joined", "room": await self.room_join(_room_of(first))}
        if name == "leave":
            room = _room_of(first)
            await self.room_leave(room)
            return {"type": "left", "room": room}
        if name == "members":
            room = _room_of(first)
            return {"type": "members", "room": room, "count": await self.room_members(room)}
        if name == "emit":
            room, event, data, echo = _emit_of(first)
            await self.room_emit(room, event, data, echo)
            return {"type": "ack"}
        handler = handler_for(name)
        if handler is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown event {name[:40]!r}")
        connection = HandlerConnection(
            self.connection_id, self.user, frozenset(self.room_names), self.protocol
        )
        return await handler(connection, first)


def _room_of(argument: object) -> str:
    """`"lobby"` or `{"room": "lobby"}`: the clients of the Node service sent either."""
    room = argument.get("room") if isinstance(argument, dict) else argument
    return room_name_check(room)


def _emit_of(argument: object) -> tuple[str, str, Any, bool]:
    if not isinstance(argument, dict):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            f'expected {{"room", "event", "data"}} for emit, got {kind(argument)}',
        )
    echo = argument.get("echo", True)
    if not isinstance(echo, bool):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"expected 'echo' true or false, got {kind(echo)}"
        )
    room = room_name_check(argument.get("room"))
    return room, event_name_check(argument.get("event")), argument.get("data"), echo
