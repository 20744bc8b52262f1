"""Engine.IO over HTTP long-polling, at /socket.io/: the handshake, GET polls, POSTed packets.

A default `io(url)` starts here and upgrades to a WebSocket; with several pods every request of
a session must reach the pod that holds it (docs/socketio.md, sticky routing), or it is told
400 "Session ID unknown". Browsers on allowed origins get CORS headers.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope

from realtime.access.addresses import client_address
from realtime.access.origins import origin_allowed
from realtime.pod.lifecycle import Pod, pod_serving
from realtime.protocols.socketio.engine import (
    EngineSession,
    EngineState,
    EngineTransport,
    engine_server,
    headers_kept,
)
from realtime.protocols.socketio.engineio_codec import (
    EngineError,
    PacketType,
    error_body,
    open_packet,
    packet_encode,
    payload_decode,
    payload_encode,
)
from realtime.protocols.socketio.packets import engine_packet_receive
from realtime.tasks import tasks_cancel

TEXT = b"text/plain; charset=UTF-8"
NOOP = packet_encode(PacketType.NOOP)
# A POST may carry several packets up to maxPayload, or one larger packet that gets its
# too_large error; beyond this the body is not read at all.
BODY_LIMIT_FACTOR = 4


async def sio_polling(
    scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    pod = await pod_serving()
    headers = scope.get("headers", [])
    origin = next((value for name, value in headers if name == b"origin"), None)
    if origin is not None and not origin_allowed(dict(scope), pod.config.origin_hosts):
        await _respond(send, 403, error_body(EngineError.FORBIDDEN), b"application/json")
        return
    cors = _cors_headers(origin)
    method = scope["method"]
    if method == "OPTIONS":
        await _respond(send, 204, b"", TEXT, cors + _PREFLIGHT)
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    error = _query_error(query)
    if error is not None:
        await _respond(send, 400, error_body(error), b"application/json", cors)
        return
    server = engine_server(pod)
    sid = query.get("sid", [None])[0]
    if sid is None:
        await _handshake(pod, dict(scope), method, send, cors)
        return
    session = await server.session_live(sid)
    if session is None or session.transport is EngineTransport.WEBSOCKET:
        refusal = EngineError.UNKNOWN_SID if session is None else EngineError.BAD_REQUEST
        await _respond(send, 400, error_body(refusal), b"application/json", cors)
    elif method == "GET":
        await _poll(session, receive, send, cors)
    elif session.closed:  # lingering for its last poll only
        await _respond(send, 400, error_body(EngineError.UNKNOWN_SID), b"application/json", cors)
    elif method == "POST":
        await _push(session, pod, receive, send, cors)
    else:
        await _respond(send, 400, error_body(EngineError.BAD_REQUEST), b"application/json", cors)


async def _handshake(
    pod: Pod, scope: dict[str, Any], method: str, send: ASGISendCallable, cors: list
) -> None:
    if method != "GET":
        body = error_body(EngineError.BAD_HANDSHAKE_METHOD)
        await _respond(send, 400, body, b"application/json", cors)
        return
    if pod.draining:
        # Not this pod: the client's retry reaches another one.
        await _respond(send, 503, error_body(EngineError.BAD_REQUEST), b"application/json", cors)
        return
    config = pod.config
    session = engine_server(pod).session_open(
        EngineTransport.POLLING,
        headers_kept(scope),
        client_address(scope, pod.config.trusted_proxies),
    )
    handshake = open_packet(
        session.sid,
        ["websocket"],
        config.sio_ping_interval,
        config.sio_ping_timeout,
        config.max_frame_bytes,
    )
    await _respond(send, 200, handshake.encode(), TEXT, cors)


async def _poll(
    session: EngineSession, receive: ASGIReceiveCallable, send: ASGISendCallable, cors: list
) -> None:
    """Answer with what waits for the client, or wait for something to come: a packet, the
    upgrade (then a noop ends this poll), the session's end, or the client going away."""
    if session.poll_waiting:
        # Two polls at once: a broken client. The first gets the close packet.
        await _respond(send, 400, error_body(EngineError.BAD_REQUEST), b"application/json", cors)
        await session.close("two polls at once")
        return
    session.poll_waiting = True
    try:
        if not session.buffer and not session.closed and session.state is EngineState.OPEN:
            await _until_ready_or_gone(session, receive)
    finally:
        session.poll_waiting = False
    # While upgrading, what is buffered goes out on the WebSocket once "5" comes.
    upgrading = session.state is EngineState.UPGRADING
    packets = [NOOP] if upgrading else session.buffer_take() or [NOOP]
    await _respond(send, 200, payload_encode(packets).encode(), TEXT, cors)
    if session.closed and not session.close_due:
        await session.gone()  # its last packets went out with this poll


async def _until_ready_or_gone(session: EngineSession, receive: ASGIReceiveCallable) -> None:
    ready = asyncio.create_task(session.ready.wait(), name="poll-ready")
    gone = asyncio.create_task(_disconnected(receive), name="poll-gone")
    try:
        await asyncio.wait({ready, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await tasks_cancel([ready, gone])


async def _disconnected(receive: ASGIReceiveCallable) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _push(
    session: EngineSession,
    pod: Pod,
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
    cors: list,
) -> None:
    limit = pod.config.max_frame_bytes * BODY_LIMIT_FACTOR
    body = await _body_read(receive, limit)
    if body is None:
        await _respond(send, 413, b"", TEXT, cors)
        return
    try:
        text = body.decode()
    except UnicodeDecodeError:
        await _respond(send, 400, error_body(EngineError.BAD_REQUEST), b"application/json", cors)
        return
    for packet in payload_decode(text):
        await engine_packet_receive(session, packet, pod)
    await _respond(send, 200, b"ok", TEXT, cors)


async def _body_read(receive: ASGIReceiveCallable, limit: int) -> bytes | None:
    """The request's body, or None when it is over `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _query_error(query: dict[str, list[str]]) -> EngineError | None:
    if query.get("EIO", [None])[0] != "4":
        return EngineError.UNSUPPORTED_PROTOCOL_VERSION
    if query.get("transport", [None])[0] != "polling":
        return EngineError.UNKNOWN_TRANSPORT
    return None


_PREFLIGHT = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"86400"),
]


def _cors_headers(origin: bytes | None) -> list[tuple[bytes, bytes]]:
    """For a browser on an allowed origin (checked before): its origin, with credentials, so
    that a session cookie of the site goes along."""
    if origin is None:
        return []
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-credentials", b"true"),
        (b"vary", b"Origin"),
    ]


async def _respond(
    send: ASGISendCallable,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
