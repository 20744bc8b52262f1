"""/healthz and /readyz: plain ASGI, before Django, so any Host header (a probe's pod IP) works
and neither touches the database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope
from django.conf import settings
from redis.asyncio import Redis

from realtime.layers import LayerName, layer_status
from realtime.pod import pod_rooms_started
from realtime.redis_errors import redis_problem_classify
from realtime.redis_probe import redis_client
from realtime.redis_url import redis_target_parse

READY_PING_TIMEOUT = 1.0
_ready_clients: dict[asyncio.AbstractEventLoop, Redis] = {}


async def healthz(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    await _json_respond(send, 200, {"status": "ok"})


async def readyz(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    status, body = await readiness()
    await _json_respond(send, status, body)


async def readiness() -> tuple[int, dict[str, Any]]:
    """200 while the pod can do its job; 503 only when Redis is required and unreachable."""
    layer = layer_status()
    rooms = pod_rooms_started()
    if rooms and rooms.draining:
        return 503, {"status": "draining", "layer": layer.name.value}
    body: dict[str, Any] = {"status": "ok", "layer": layer.name.value}
    if layer.degraded:
        body["degraded"] = True
    if layer.name is LayerName.REDIS:
        error = await _redis_ping_error()
        if error and settings.REDIS_REQUIRED:
            return 503, {"status": "unavailable", "layer": "redis", "error": error}
        if error:
            body.update(degraded=True, error=error)
    return 200, body


async def _redis_ping_error() -> str | None:
    target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
    loop = asyncio.get_running_loop()
    client = _ready_clients.get(loop)
    if client is None:
        client = _ready_clients[loop] = redis_client(target, READY_PING_TIMEOUT)
    try:
        async with asyncio.timeout(READY_PING_TIMEOUT):
            await client.ping()
    except Exception as error:
        return redis_problem_classify(error, target).error
    return None


async def _json_respond(send: ASGISendCallable, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
            ],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
