"""Engine.IO sessions of this pod: a sid, its transport (HTTP long-polling, or a WebSocket after
the upgrade or from the start), what waits to be sent, and the server-driven heartbeat.

The heartbeat is one task per event loop sweeping every session, not a timer per session: an
idle connection costs a few attributes, and the task ends when the last session does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
import weakref
from typing import TYPE_CHECKING, Any

from asgiref.typing import ASGISendCallable

from realtime.config import RealtimeConfig
from realtime.ops.counters import PodCounters
from realtime.pod.slow_readers import ReaderWatch
from realtime.protocols.closecodes import CloseCode, websocket_close
from realtime.protocols.socketio.engineio_codec import PacketType, packet_encode
from realtime.tasks import task_in_background, tasks_cancel

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod
    from realtime.protocols.socketio.connection import SioConnection

logger = logging.getLogger(__name__)


class EngineTransport(enum.Enum):
    POLLING = "polling"
    WEBSOCKET = "websocket"


class EngineState(enum.Enum):
    OPEN = "open"
    UPGRADING = "upgrading"  # a WebSocket answered the probe; polls get a noop until "5"
    CLOSED = "closed"


class EngineSession:
    """One Engine.IO session. Packets go out as text: on the WebSocket at once, or into the
    buffer that the next poll takes whole."""

    __slots__ = (
        "__weakref__",
        "address",
        "attachments_expected",
        "awaiting_pong",
        "buffer",
        "buffered_bytes",
        "close_due",
        "closed_at",
        "connected",
        "handshake_headers",
        "next_ping",
        "opened_at",
        "ping_sent",
        "poll_waiting",
        "probing",
        "reader",
        "ready",
        "server",
        "sid",
        "socket",
        "state",
        "transport",
        "ws_send",
    )

    def __init__(
        self,
        server: EngineServer,
        transport: EngineTransport,
        handshake_headers: list[tuple[bytes, bytes]],
        address: str | None = None,
    ) -> None:
        self.server = server
        self.address = address
        self.sid = secrets.token_urlsafe(15)
        self.transport = transport
        self.state = EngineState.OPEN
        # Kept for the session cookie, read at CONNECT (after the handshake).
        self.handshake_headers = handshake_headers
        self.buffer: list[str] = []
        self.buffered_bytes = 0
        self.ready = asyncio.Event()
        self.poll_waiting = False
        self.probing = False  # a WebSocket of this session is upgrading it
        self.ws_send: ASGISendCallable | None = None
        self.reader: ReaderWatch | None = None  # the WebSocket's transport, under daphne
        self.socket: SioConnection | None = None
        self.connected = False  # a Socket.IO CONNECT was answered
        # Binary frames still to come for a binary packet that was refused: skipped quietly.
        self.attachments_expected = 0
        now = time.monotonic()
        self.opened_at = now
        self.closed_at = 0.0
        self.close_due = False  # a lingering session's close packet, for a poll to come
        self.next_ping = now + server.config.sio_ping_interval
        self.ping_sent = 0.0
        self.awaiting_pong = False

    @property
    def closed(self) -> bool:
        return self.state is EngineState.CLOSED

    async def send(self, text: str) -> None:
        """One Engine.IO packet, already encoded, to the client."""
        if self.closed:
            return
        if self.ws_send is not None:
            await self.ws_send({"type": "websocket.send", "text": text})
        else:
            await self.buffer_add(text)

    async def buffer_add(self, text: str) -> None:
        """Keep a packet for the next poll. A client that lets more than
        REALTIME_SIO_POLL_BUFFER_BYTES pile up has stopped polling: its session is closed (the
        client reconnects when it polls again) and counted, rather than holding a busy room's
        events until its ping timeout."""
        self.buffer.append(text)
        # isascii() is O(1) on CPython's ASCII strings: the encode is for the rare others.
        self.buffered_bytes += len(text) if text.isascii() else len(text.encode())
        self.ready.set()
        if self.buffered_bytes > self.server.config.sio_poll_buffer_bytes:
            self.buffer, self.buffered_bytes = [], 0
            self.server.counters.slow_client_closed("socketio")
            await self.close("its client stopped polling", linger=True)

    def buffer_take(self) -> list[str]:
        """What waits, for a poll; once a lingering session has nothing else, its close packet."""
        packets, self.buffer = self.buffer, []
        self.buffered_bytes = 0
        self.ready.clear()
        if not packets and self.close_due:
            self.close_due = False  # the caller sends it, then calls gone()
            packets = [packet_encode(PacketType.CLOSE)]
        return packets

    def ping_overdue(self, now: float) -> bool:
        return self.awaiting_pong and now - self.ping_sent > self.server.config.sio_ping_timeout

    def pong(self) -> None:
        self.awaiting_pong = False
        self.next_ping = time.monotonic() + self.server.config.sio_ping_interval

    async def close(
        self, reason: str, code: int = CloseCode.NORMAL, notify: bool = True, linger: bool = False
    ) -> None:
        """End the session: its Socket.IO connection leaves every room, and the client is told
        the transport closed (a waiting poll gets the close packet, a WebSocket a close frame
        with `code`), unless `notify` is false: the client closed it itself.

        With `linger` (the server closes it: a drain, staff), a polling session stays for its
        next polls: the first takes what waits (a DISCONNECT), the next the close packet, as
        engine.io sends them. In one payload socket.io-client would act on the close first (it
        handles packets a tick later), and without the session a poll would get "Session ID
        unknown", a transport error to the client, which then reconnects as no close asks.
        """
        if self.closed:
            return
        self.state = EngineState.CLOSED
        self.closed_at = time.monotonic()
        logger.debug("Engine.IO session %s closed: %s", self.sid, reason)
        polling = self.ws_send is None
        if notify and not polling:
            await websocket_close(self.ws_send, code)
        elif notify and linger:
            self.close_due = True
        elif notify:
            self.buffer.append(packet_encode(PacketType.CLOSE))
        self.ready.set()
        if not self.close_due:
            await self.gone()
        elif self.socket is not None:
            # Out of its rooms now; still open for the pod (a drain waits) until its close goes.
            await self.socket.rooms_leave_all()

    async def gone(self) -> None:
        """Nothing of the session is left to deliver: forget it, and its Socket.IO connection."""
        self.server.sessions.pop(self.sid, None)
        socket, self.socket = self.socket, None
        if socket is not None:
            await socket.closed()


class EngineServer:
    """The Engine.IO sessions of one event loop, and their heartbeat."""

    def __init__(self, config: RealtimeConfig, counters: PodCounters) -> None:
        self.config = config
        self.counters = counters
        self.sessions: dict[str, EngineSession] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """The pod stops: what is left (sessions without a connection) closes, and the
        heartbeat with it."""
        for session in list(self.sessions.values()):
            await session.close("the pod stops")
        await tasks_cancel([self._heartbeat])

    def session_open(
        self,
        transport: EngineTransport,
        headers: list[tuple[bytes, bytes]],
        address: str | None = None,
    ) -> EngineSession:
        session = EngineSession(self, transport, headers, address)
        self.sessions[session.sid] = session
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = task_in_background(self._beat_while_open(), "socketio-heartbeat")
        return session

    async def session_live(self, sid: str) -> EngineSession | None:
        """The session `sid` if it lives: one past its ping timeout is closed now, not at the
        heartbeat's next sweep, so a request at the deadline meets what the client expects."""
        session = self.sessions.get(sid)
        if session is not None and not session.closed and session.ping_overdue(time.monotonic()):
            await session.close("ping timeout")
            return None
        return session

    async def _beat_while_open(self) -> None:
        interval, timeout = self.config.sio_ping_interval, self.config.sio_ping_timeout
        connect_timeout = self.config.sio_connect_timeout
        # Fine enough that a ping or a timeout is late by a quarter of the shorter at most.
        tick = min(max(min(interval, timeout) / 4, 0.02), 1.0)
        while self.sessions:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if session.closed:
                    if now - session.closed_at > interval + timeout:  # no poll came for it
                        await session.gone()
                elif session.ping_overdue(now):
                    await session.close("ping timeout")
                elif not session.connected and now - session.opened_at > connect_timeout:
                    await session.close("no Socket.IO CONNECT in time")
                elif not session.awaiting_pong and now >= session.next_ping:
                    # The timeout runs from when the ping was due, not from this sweep.
                    session.awaiting_pong, session.ping_sent = True, session.next_ping
                    await session.send(packet_encode(PacketType.PING))


# Keyed by the pod, which stops its server with itself.
_servers: weakref.WeakKeyDictionary[Pod, EngineServer] = weakref.WeakKeyDictionary()


def engine_server(pod: Pod) -> EngineServer:
    """The pod's Engine.IO sessions, created on first use, stopped with the pod."""
    server = _servers.get(pod)
    if server is None:
        server = _servers[pod] = EngineServer(pod.config, pod.counters)
        pod.on_stop(server.stop)
    return server


def headers_kept(scope: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    """The handshake's cookies: all a session needs of its first request."""
    return [(name, value) for name, value in scope.get("headers", []) if name == b"cookie"]
