"""Engine.IO over a WebSocket, at /socket.io/: a session of its own from the start
(`transports: ["websocket"]`), or the upgrade of a polling session (`2probe`, `3probe`, `5`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketScope

from realtime.access.addresses import client_address
from realtime.access.origins import origin_allowed
from realtime.pod.lifecycle import Pod, pod_serving
from realtime.pod.slow_readers import reader_watch
from realtime.protocols.closecodes import CloseCode, websocket_close
from realtime.protocols.rules import ErrorCode, ProtocolError
from realtime.protocols.socketio.engine import (
    EngineSession,
    EngineState,
    EngineTransport,
    engine_server,
    headers_kept,
)
from realtime.protocols.socketio.engineio_codec import (
    PROBE,
    PacketType,
    open_packet,
    packet_encode,
)
from realtime.protocols.socketio.packets import engine_packet_receive

PROBE_PING = packet_encode(PacketType.PING, PROBE)
PROBE_PONG = packet_encode(PacketType.PONG, PROBE)
UPGRADE = packet_encode(PacketType.UPGRADE)


async def sio_websocket(
    scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    pod = await pod_serving()
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    valid = query.get("EIO", [None])[0] == "4" and query.get("transport") == ["websocket"]
    if not valid or not origin_allowed(dict(scope), pod.config.origin_hosts):
        await websocket_close(send, CloseCode.NORMAL)  # before the accept: HTTP 403
        return
    server = engine_server(pod)
    sid = query.get("sid", [None])[0]
    if sid is None:
        if pod.draining:
            await websocket_close(send, CloseCode.NORMAL)
            return
        await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
        session = server.session_open(
            EngineTransport.WEBSOCKET,
            headers_kept(dict(scope)),
            client_address(dict(scope), pod.config.trusted_proxies),
        )
        session.ws_send, session.reader = send, reader_watch(send)
        config = pod.config
        await session.send(
            open_packet(
                session.sid,
                [],
                config.sio_ping_interval,
                config.sio_ping_timeout,
                config.max_frame_bytes,
            )
        )
        await _frames_receive(session, pod, receive, send)
        return
    session = await server.session_live(sid)
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    if (
        session is None
        or session.transport is not EngineTransport.POLLING
        or session.state is not EngineState.OPEN
        or session.probing
    ):
        # Unknown, upgraded already, or another WebSocket holds the probe: accepted, then
        # closed, as engine.io does (a client waits for the close, not for an HTTP error).
        await websocket_close(send, CloseCode.NORMAL)
        return
    session.probing = True
    try:
        upgraded = await _upgraded(session, receive, send)
    finally:
        session.probing = False
    if upgraded:
        await _frames_receive(session, pod, receive, send)


async def _upgraded(
    session: EngineSession, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> bool:
    """The probe, then "5": True once the session has moved onto this WebSocket. A socket that
    goes before that leaves the session on polling, as it was."""
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect" or session.closed:
            if session.state is EngineState.UPGRADING:
                session.state = EngineState.OPEN
            return False
        text = event.get("text")
        if text == PROBE_PING and session.state is EngineState.OPEN:
            await send({"type": "websocket.send", "text": PROBE_PONG})
            session.state = EngineState.UPGRADING
            session.ready.set()  # the waiting poll ends with a noop
        elif text == UPGRADE and session.state is EngineState.UPGRADING:
            # What waited for a poll goes first, in order, then everything goes here.
            while session.buffer:
                for packet in session.buffer_take():
                    await send({"type": "websocket.send", "text": packet})
            session.transport, session.ws_send = EngineTransport.WEBSOCKET, send
            session.reader = reader_watch(send)
            session.state = EngineState.OPEN
            return True


async def _frames_receive(
    session: EngineSession, pod: Pod, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    try:
        while not session.closed:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                break
            if event.get("text") is not None:
                await engine_packet_receive(session, event["text"], pod)
            elif session.attachments_expected:
                session.attachments_expected -= 1  # of a binary packet, refused already
            elif session.socket is not None:
                refused = ProtocolError(ErrorCode.BAD_MESSAGE, _binary_message(event))
                await session.socket.error_send(refused)
    finally:
        await session.close("the WebSocket closed", notify=False)


def _binary_message(event: dict[str, Any]) -> str:
    return f"binary frames are not supported ({len(event.get('bytes') or b'')} bytes)"
