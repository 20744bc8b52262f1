"""/metrics: Prometheus text from this pod's counters, any Host header, no database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from channels.layers import get_channel_layer
from channels.testing import HttpCommunicator, WebsocketCommunicator
from prometheus_client.parser import text_string_to_metric_families

from murror.asgi import application
from realtime.config import realtime_config
from realtime.ops.metrics import PodCollector
from realtime.pod.lifecycle import Pod, pod_stop
from realtime.protocols.rules import ErrorCode


@pytest.fixture(autouse=True)
async def fresh_pod() -> AsyncIterator[None]:
    yield
    await pod_stop()
    await get_channel_layer().flush()


async def scrape(host: bytes = b"10.42.0.17:8000") -> tuple[int, dict[str, str], str]:
    communicator = HttpCommunicator(application, "GET", "/metrics", headers=[(b"host", host)])
    response = await communicator.get_response(timeout=5)
    headers = {name.decode(): value.decode() for name, value in response["headers"]}
    return response["status"], headers, response["body"].decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_answer_any_host_in_prometheus_text(settings) -> None:
    settings.POD_NAME = "pod-m"
    status, headers, text = await scrape(b"not-an-allowed-host")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(text)
    pod = (("pod", "pod-m"),)
    for name in (
        "murror_connections",
        "murror_connections_peak",
        "murror_rooms",
        "murror_connects_total",
        "murror_disconnects_total",
        "murror_joins_total",
        "murror_messages_received_total",
        "murror_messages_sent_total",
        "murror_dropped_events_total",
        "murror_forward_failures_total",
        "murror_delivery_failures_total",
        "murror_unreadable_messages_total",
        "murror_redis_errors_total",
    ):
        assert (name, pod) in found, name
    for code in ErrorCode:
        assert ("murror_errors_total", (("code", code), *pod)) in found
    assert found[("murror_channel_layer_info", (("layer", "memory"), *pod))] == 1
    assert found[("murror_channel_layer_info", (("layer", "redis"), *pod))] == 0


async def test_metrics_follow_the_pod_at_scrape_time(settings) -> None:
    settings.POD_NAME = "pod-m"
    pod = (("pod", "pod-m"),)
    before = samples((await scrape())[2])
    client = WebsocketCommunicator(application, "/ws/")
    assert (await client.connect(timeout=5))[0]
    await client.receive_from(timeout=5)
    await client.send_to(text_data=json.dumps({"type": "join", "room": "metered"}))
    await client.receive_from(timeout=5)
    await client.send_to(text_data="[]")
    await client.receive_from(timeout=5)
    after = samples((await scrape())[2])
    assert after[("murror_connections", pod)] == before[("murror_connections", pod)] + 1
    assert after[("murror_rooms", pod)] == before[("murror_rooms", pod)] + 1
    assert after[("murror_messages_received_total", pod)] == (
        before[("murror_messages_received_total", pod)] + 2
    )
    bad_json = ("murror_errors_total", (("code", "bad_json"), *pod))
    assert after[bad_json] == before[bad_json] + 1
    await client.disconnect()


def test_collector_reads_the_pods_counters_and_its_hubs(settings) -> None:
    settings.POD_NAME = "p"
    pod = Pod(realtime_config())  # not started: its counters are all the collector reads
    pod.counters.connections, pod.counters.peak_connections = 3, 5
    pod.counters.redis_errors, pod.counters.messages_out = 2, 10
    pod.counters.errors[ErrorCode.RATE_LIMITED] += 4
    pod.hub.counters.delivered, pod.hub.counters.delivery_failures = 90, 1
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in PodCollector(pod).collect()
        for sample in family.samples
    }
    assert found[("murror_connections", (("pod", "p"),))] == 3
    assert found[("murror_connections_peak", (("pod", "p"),))] == 5
    assert found[("murror_redis_errors_total", (("pod", "p"),))] == 2
    assert found[("murror_messages_sent_total", (("pod", "p"),))] == 100
    assert found[("murror_delivery_failures_total", (("pod", "p"),))] == 1
    assert found[("murror_errors_total", (("code", "rate_limited"), ("pod", "p")))] == 4
    assert found[("murror_channel_layer_info", (("layer", "memory"), ("pod", "p")))] == 1
