"""REALTIME_MAX_CONNECTIONS and REALTIME_MAX_CONNECTIONS_PER_ADDRESS, through the /ws/ consumer
in this process: over a cap, a handshake is accepted and closed with the cap's code, counted;
a closed connection frees its place."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from murror.asgi import application
from realtime.ops.metrics import metrics_text
from realtime.pod.lifecycle import pod_serving
from realtime.protocols.closecodes import CloseCode

pytestmark = [pytest.mark.usefixtures("in_process_pod"), pytest.mark.django_db]


def from_address(address: str) -> WebsocketCommunicator:
    connection = WebsocketCommunicator(application, "/ws/")
    connection.scope["client"] = (address, 50000)  # what daphne puts there, read at connect
    return connection


async def welcomed(connection: WebsocketCommunicator) -> bool:
    accepted, _ = await connection.connect(timeout=5)
    assert accepted
    message = await connection.receive_output(timeout=5)
    if message["type"] == "websocket.close":
        return False
    return json.loads(message["text"])["type"] == "welcome"


async def closed_with(connection: WebsocketCommunicator) -> int:
    accepted, _ = await connection.connect(timeout=5)
    assert accepted  # accepted first, so that a browser sees the code
    message = await connection.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


async def test_one_address_may_hold_so_many_connections(settings) -> None:
    settings.REALTIME_MAX_CONNECTIONS_PER_ADDRESS = 2
    first, second = from_address("203.0.113.7"), from_address("203.0.113.7")
    assert await welcomed(first) and await welcomed(second)
    assert await closed_with(from_address("203.0.113.7")) == CloseCode.TOO_MANY_FROM_ADDRESS
    other = from_address("198.51.100.9")
    assert await welcomed(other)  # another address is not held back
    await first.disconnect()  # returns once the consumer has finished: its place is free
    pod = await pod_serving()
    replacement = from_address("203.0.113.7")
    assert await welcomed(replacement)
    assert pod.counters.refused == {"too_many_from_address": 1}
    for connection in (second, other, replacement):
        await connection.disconnect()


async def test_a_full_pod_refuses_so_clients_go_to_another(settings) -> None:
    settings.REALTIME_MAX_CONNECTIONS = 2
    held = [from_address(f"192.0.2.{n}") for n in (1, 2)]
    for connection in held:
        assert await welcomed(connection)
    assert await closed_with(from_address("192.0.2.3")) == CloseCode.POD_FULL
    text = metrics_text(await pod_serving()).decode()
    assert 'murror_connections_refused_total{pod="' in text
    assert 'reason="pod_full"} 1.0' in text
    for connection in held:
        await connection.disconnect()


def through_proxy(forwarded_for: str) -> WebsocketCommunicator:
    connection = WebsocketCommunicator(
        application, "/ws/", headers=[(b"x-forwarded-for", forwarded_for.encode())]
    )
    connection.scope["client"] = ("10.0.0.5", 50000)  # the ingress controller
    return connection


async def test_behind_a_trusted_proxy_each_client_address_counts(settings) -> None:
    settings.REALTIME_MAX_CONNECTIONS_PER_ADDRESS = 1
    settings.REALTIME_TRUSTED_PROXIES = ["10.0.0.0/8"]
    first = through_proxy("203.0.113.7")
    assert await welcomed(first)
    other = through_proxy("198.51.100.9")
    assert await welcomed(other)  # counted apart: not the proxy's own address
    # A client that writes another address first is still counted as the one the proxy saw.
    spoofing = through_proxy("192.0.2.200, 203.0.113.7")
    assert await closed_with(spoofing) == CloseCode.TOO_MANY_FROM_ADDRESS
    for connection in (first, other):
        await connection.disconnect()
