"""WebSocket close codes the product sends, in one place, and how to send one."""

from __future__ import annotations

import enum

from asgiref.typing import ASGISendCallable


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    # IANA "Service Restart": this pod is going away, reconnect elsewhere.
    SERVICE_RESTART = 1012
    # 1012's twin in the private range: autobahn, under daphne, refuses to send any code but
    # 1000 and 3000-4999 (WebSocketProtocol.sendClose).
    SERVICE_RESTART_PRIVATE = 4012
    # 4000-4999 is for applications; 4001/4003 are left to authentication.
    CLOSED_BY_STAFF = 4100
    UNAUTHORIZED = 4401
    # Over REALTIME_MAX_CONNECTIONS_PER_ADDRESS (as HTTP's 429), or REALTIME_MAX_CONNECTIONS
    # (as 503: another pod may have room). Clients reconnect with backoff.
    TOO_MANY_FROM_ADDRESS = 4429
    # Did not read what its rooms sent for REALTIME_SLOW_CLIENT_SECONDS (as 1008, policy).
    SLOW_CLIENT = 4008
    POD_FULL = 4503


async def websocket_close(send: ASGISendCallable, code: int) -> None:
    """Close a WebSocket with `code`. Under daphne 1012 goes out as 4012, its private twin."""
    try:
        # A plain int: autobahn refuses any other type for a close code, IntEnum included.
        await send({"type": "websocket.close", "code": int(code), "reason": ""})
    except Exception:
        if code != CloseCode.SERVICE_RESTART:
            raise
        await websocket_close(send, CloseCode.SERVICE_RESTART_PRIVATE)
