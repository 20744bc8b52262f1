"""WebSocket clients that stop reading, closed under daphne before they cost a pod much.

daphne writes each frame to the socket's Twisted transport, which keeps in the pod's memory,
without a bound, what the socket cannot take, until daphne's ping timeout (about 50 s) closes
the client (docs/operations.md, slow clients). Two signals together tell a client that stopped
reading from one that reads slowly: its transport has more buffered than its `bufferSize` (64
KiB; Twisted then pauses the transport's producer, daphne's HTTP channel, and says so in
`producerPaused`), and the kernel has seen it acknowledge no byte since the last look
(`tcpi_bytes_acked` of TCP_INFO, Linux). A client in that state at every one-second sweep of
the pod for REALTIME_SLOW_CLIENT_SECONDS is closed and counted.

The transport is reached through the first argument of the `send` daphne gives the application
(a `functools.partial` of its `handle_reply` with the protocol): not an API daphne documents, so
a connection whose `send` is anything else (another ASGI server, a test) goes unwatched.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

# struct tcp_info (linux/tcp.h): tcpi_bytes_acked, a __u64 at byte 120, since Linux 4.1.
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120
_TCP_INFO_SIZE = _BYTES_ACKED_OFFSET + _BYTES_ACKED.size


def bytes_acked(sock: socket.socket) -> int | None:
    """What the peer has acknowledged on `sock`, or None where the kernel does not say."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < _TCP_INFO_SIZE:
        return None
    return _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0]


class ReaderWatch:
    __slots__ = ("acked", "stalled_since", "transport")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.acked: int | None = None
        self.stalled_since: float | None = None

    def stuck(self, now: float, seconds: float) -> bool:
        """Has the client, with more than a buffer's worth waiting, acknowledged nothing at
        every look for `seconds`?"""
        if not self.transport.producerPaused:
            self.acked = self.stalled_since = None
            return False
        acked = bytes_acked(self.transport.getHandle())
        if acked is None or acked != self.acked:
            self.acked, self.stalled_since = acked, None
            return False
        if self.stalled_since is None:
            self.stalled_since = now
        return now - self.stalled_since >= seconds


def reader_watch(send: Any) -> ReaderWatch | None:
    """A watch on the transport behind daphne's `send`, or None where there is none to watch."""
    protocol = next(iter(getattr(send, "args", ())), None)
    transport = getattr(protocol, "transport", None)
    if not hasattr(transport, "producerPaused") or not hasattr(transport, "getHandle"):
        return None
    return ReaderWatch(transport)
