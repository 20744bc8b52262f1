"""A real daphne pod refuses a foreign browser origin at the handshake (HTTP 403)."""

from __future__ import annotations

import json

import pytest
import websockets


async def test_real_pod_refuses_a_foreign_origin_handshake(pod_factory) -> None:
    pod = pod_factory({"ALLOWED_HOSTS": "api.example.com"}).wait_listening()
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(pod.ws_url, origin="https://evil.example.net", open_timeout=5)
    assert refused.value.response.status_code == 403
    allowed = await websockets.connect(pod.ws_url, origin="https://api.example.com", open_timeout=5)
    assert json.loads(await allowed.recv())["type"] == "welcome"
    await allowed.close()
