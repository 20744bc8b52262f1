"""What a client's packet does, whichever transport brought it: Engine.IO first (heartbeat,
close, messages), then the Socket.IO packet a message carries (CONNECT, DISCONNECT, EVENT)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from realtime.access.admission import user_admit
from realtime.protocols.closecodes import CloseCode
from realtime.protocols.rules import ErrorCode, ProtocolError
from realtime.protocols.socketio.connection import SioConnection
from realtime.protocols.socketio.engine import EngineSession
from realtime.protocols.socketio.engineio_codec import MalformedPacket, PacketType, packet_decode
from realtime.protocols.socketio.socketio_codec import (
    MAIN_NAMESPACE,
    SioType,
    ack_id_peek,
    connect_error,
    connect_reply,
    event_packet,
)
from realtime.protocols.socketio.socketio_codec import packet_decode as sio_decode

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod

logger = logging.getLogger(__name__)


async def engine_packet_receive(session: EngineSession, text: str, pod: Pod) -> None:
    """One Engine.IO packet from the client. A malformed one is answered with an `error`
    event (when a Socket.IO connection can hear it) and costs the session nothing."""
    limit = pod.config.max_frame_bytes
    # A character is at most 4 bytes: encode only when the length alone cannot decide.
    if len(text) > limit // 4 and len(text.encode()) > limit:
        size = ProtocolError(ErrorCode.TOO_LARGE, f"packet is over {limit} bytes")
        await _refuse(session, size, ack_id_peek(text[1:]) if text.startswith("4") else None)
        return
    try:
        packet = packet_decode(text)
    except MalformedPacket as error:
        await _refuse(session, ProtocolError(ErrorCode.BAD_MESSAGE, f"not a packet: {error}"))
        return
    if packet.type is PacketType.PONG:
        session.pong()
    elif packet.type is PacketType.MESSAGE:
        await socketio_packet_receive(session, packet.data, pod)
    elif packet.type is PacketType.CLOSE:
        # A WebSocket is closed by the server in answer; a poll's client has gone already.
        await session.close("closed by the client", notify=session.ws_send is not None)
    # A client's ping ("probe" belongs to the upgrade), upgrade, noop or open: nothing to do.


async def socketio_packet_receive(session: EngineSession, text: str, pod: Pod) -> None:
    try:
        packet = sio_decode(text)
    except ProtocolError as error:
        await _refuse(session, error, ack_id_peek(text))
        return
    if packet.namespace != MAIN_NAMESPACE:
        if packet.type is SioType.CONNECT:
            await session.send(connect_error("Invalid namespace", packet.namespace))
        return  # packets for a namespace never joined: socket.io ignores them too
    socket = session.socket
    if packet.type is SioType.CONNECT:
        await _connect(session, packet.data, pod)
    elif socket is None:
        return  # anything before CONNECT, or after DISCONNECT, reaches nobody
    elif packet.type is SioType.EVENT:
        await socket.event_receive(packet.data, packet.ack_id)
    elif packet.type in (SioType.BINARY_EVENT, SioType.BINARY_ACK):
        session.attachments_expected = packet.attachments
        binary = ProtocolError(ErrorCode.BAD_MESSAGE, "binary attachments are not supported")
        ack_id = packet.ack_id if packet.type is SioType.BINARY_EVENT else None
        await socket.error_send(binary, ack_id)
    elif packet.type is SioType.DISCONNECT:
        session.socket = None
        await socket.closed()  # the engine session goes on, as socket.io's does


async def _connect(session: EngineSession, auth: Any, pod: Pod) -> None:
    """CONNECT to "/": the auth payload's token, else the handshake's session cookie."""
    if session.socket is not None:
        return  # connected already: the client's retry of a CONNECT it sent
    if pod.draining:
        await session.close("the pod is draining", CloseCode.SERVICE_RESTART, linger=True)
        return
    token = auth.get("token") if isinstance(auth, dict) else None
    admission = await user_admit(token, session.handshake_headers, pod.config)
    if admission.refused:
        await session.send(connect_error("unauthorized"))
        return
    if refusal := pod.connection_refusal(session.address):
        # A transport close, not CONNECT_ERROR: the client reconnects by itself, with backoff.
        await session.close(f"refused: {refusal.name}", refusal, linger=True)
        return
    socket = SioConnection(session, pod, admission.user)
    session.socket, session.connected = socket, True
    socket.opened()
    await socket.send_packet(connect_reply(socket.connection_id))
    await socket.send_packet(event_packet("welcome", socket.welcome()))


async def _refuse(session: EngineSession, error: ProtocolError, ack_id: int | None = None) -> None:
    if session.socket is not None:
        await session.socket.error_send(error, ack_id)
    else:
        logger.debug("Engine.IO session %s sent what it may not: %s", session.sid, error.message)
