"""WebSocket close codes the product sends, in one place."""

from __future__ import annotations

import enum


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
