"""Which browser origins may open a WebSocket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator


def origin_allowed(scope: dict[str, Any], allowed: Sequence[str]) -> bool:
    """AllowedHostsOriginValidator's rule over `allowed` (ALLOWED_HOSTS, REALTIME_ALLOWED_ORIGINS).

    A handshake without an Origin header is not from a browser (browsers always send one), so
    cross-site WebSocket hijacking cannot apply: it is let through to authentication. Checked
    by the consumer instead of wrapping it in OriginValidator, whose frame would stay alive as
    long as each connection (docs/performance.md, idle memory).
    """
    origin = next((value for name, value in scope.get("headers", []) if name == b"origin"), None)
    if origin is None:
        return True
    return bool(
        OriginValidator(None, list(allowed)).valid_origin(urlparse(origin.decode("latin1")))
    )
