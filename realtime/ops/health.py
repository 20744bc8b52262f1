"""/healthz and /readyz: plain ASGI, before Django, so any Host header (a probe's pod IP) works
and neither touches the database."""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope

from realtime.config import RealtimeConfig, realtime_config
from realtime.pod.layers import LayerName, layer_fallback_problem, layer_in_use
from realtime.pod.lifecycle import pod_running
from realtime.redis.clients import RedisClient, redis_client
from realtime.redis.errors import RedisUnavailable, redis_problem_classify
from realtime.redis.role import redis_role_check
from realtime.redis.url import RedisMode, RedisTarget

READY_PING_TIMEOUT = 1.0
REDIS_HOST_WORDS = "the host of REDIS_URL"
# One client per event loop, kept: a probe every few seconds need not reconnect each time.
_ready_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisClient] = (
    weakref.WeakKeyDictionary()
)


async def healthz(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    await _json_respond(send, 200, {"status": "ok"})


async def readyz(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    status, body = await readiness()
    await _json_respond(send, status, body)


async def readiness(config: RealtimeConfig | None = None) -> tuple[int, dict[str, Any]]:
    """200 while the pod can do its job; 503 while it drains, and when Redis is required and
    unreachable."""
    config = config or realtime_config()
    layer = layer_in_use()
    pod = pod_running()
    if pod and pod.draining:
        return 503, {"status": "draining", "layer": layer.value}
    body: dict[str, Any] = {"status": "ok", "layer": layer.value}
    target = config.redis.url.target
    if layer_fallback_problem():
        body["degraded"] = True
    if layer is LayerName.REDIS and target is not None:
        error = await _redis_ping_error(target)
        if error and config.redis.required:
            return 503, {"status": "unavailable", "layer": "redis", "error": error}
        if error:
            body.update(degraded=True, error=error)
    return 200, body


async def _redis_ping_error(target: RedisTarget) -> str | None:
    loop = asyncio.get_running_loop()
    client = _ready_clients.get(loop)
    if client is None:
        client = _ready_clients[loop] = redis_client(target, READY_PING_TIMEOUT)
    try:
        async with asyncio.timeout(READY_PING_TIMEOUT):
            await client.ping()
            if target.mode is not RedisMode.CLUSTER:
                await redis_role_check(client)
    except Exception as error:
        if isinstance(error, RedisUnavailable):
            # Its kept connection is on a demoted server: the next probe connects anew, through
            # the endpoint, to whichever server is the primary then.
            await client.connection_pool.disconnect()
            problem = error.problem
        else:
            problem = redis_problem_classify(error, target)
        return _address_hidden(problem.error, target)
    return None


def _address_hidden(text: str, target: RedisTarget) -> str:
    """An error for whoever can reach /readyz, without the internal host and port it names;
    the pod's log has them."""
    return text.replace(target.address, REDIS_HOST_WORDS).replace(target.host, REDIS_HOST_WORDS)


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
