"""/metrics: Prometheus text from this pod's counters, any Host header, no database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from channels.layers import get_channel_layer
from channels.testing import HttpCommunicator, WebsocketCommunicator
from prometheus_client.parser import text_string_to_metric_families

from murror.asgi import application
from realtime.layers import LayerName
from realtime.metrics import ERROR_CODES, PodCollector
from realtime.pod import pod_rooms_stop
from realtime.protocol import ErrorCode
from realtime.stats import PodStats, pod_stats


@pytest.fixture(autouse=True)
async def fresh_pod() -> AsyncIterator[None]:
    yield
    await pod_rooms_stop()
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
        "murror_redis_errors_total",
    ):
        assert (name, pod) in found, name
    for code in ERROR_CODES:
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


def test_collector_labels_by_pod_and_counts_redis_errors() -> None:
    stats = PodStats(connections=3, peak_connections=5, redis_errors=2)
    stats.errors[ErrorCode.RATE_LIMITED] += 4
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in PodCollector(stats, None, "p", LayerName.REDIS).collect()
        for sample in family.samples
    }
    assert found[("murror_connections", (("pod", "p"),))] == 3
    assert found[("murror_connections_peak", (("pod", "p"),))] == 5
    assert found[("murror_redis_errors_total", (("pod", "p"),))] == 2
    assert found[("murror_errors_total", (("code", "rate_limited"), ("pod", "p")))] == 4
    assert found[("murror_channel_layer_info", (("layer", "redis"), ("pod", "p")))] == 1
    assert pod_stats is not stats
