"""/metrics: Prometheus text read from this pod's counters at scrape time.

Plain ASGI before Django, like /healthz: any Host header, no database. A custom collector reads
PodStats and PodRooms when scraped, so nothing is counted twice and the message path pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope
from django.conf import settings
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from realtime.layers import LayerName, layer_status
from realtime.pod import pod_rooms
from realtime.protocol import ErrorCode
from realtime.rooms import PodRooms
from realtime.stats import PodStats, pod_stats

# The protocol's codes, plus the one for our own bugs (README's table): all shown, 0 or not.
ERROR_CODES = (*(code.value for code in ErrorCode), "internal_error")


class PodCollector(Collector):
    """This pod's stats as Prometheus metrics, each labelled with the pod's name."""

    def __init__(self, stats: PodStats, rooms: PodRooms | None, pod: str, layer: LayerName):
        self.stats = stats
        self.rooms = rooms
        self.pod = pod
        self.layer = layer

    def collect(self) -> Iterator[Metric]:
        stats, rooms = self.stats, self.rooms
        yield self._gauge("murror_connections", "Open WebSockets on this pod", stats.connections)
        yield self._gauge(
            "murror_connections_peak", "Most WebSockets open at once", stats.peak_connections
        )
        yield self._gauge(
            "murror_rooms", "Rooms with members on this pod", len(rooms.members) if rooms else 0
        )
        yield self._gauge(
            "murror_start_time_seconds", "Unix time the pod started", stats.started_at
        )
        yield self._counter("murror_connects_total", "WebSockets accepted", stats.connects)
        yield self._counter("murror_disconnects_total", "WebSockets closed", stats.disconnects)
        yield self._counter("murror_joins_total", "Room joins", stats.joins)
        yield self._counter(
            "murror_messages_received_total", "Frames received from clients", stats.messages_in
        )
        yield self._counter(
            "murror_messages_sent_total", "Frames sent to clients", stats.messages_out
        )
        yield self._counter(
            "murror_dropped_events_total",
            "Room events dropped because the pod's inbox was full",
            rooms.dropped if rooms else 0,
        )
        yield self._counter(
            "murror_forward_failures_total",
            "Room events that reached this pod only: sending to other pods failed",
            rooms.forwarding.failures if rooms else 0,
        )
        yield self._counter(
            "murror_redis_errors_total",
            "Failed Redis operations: forwarding, member counts, heartbeats, stats publishes",
            stats.redis_errors,
        )
        errors = CounterMetricFamily(
            "murror_errors_total", "Error frames sent, by code", labels=["pod", "code"]
        )
        for code in sorted({*ERROR_CODES, *stats.errors}):
            errors.add_metric([self.pod, code], stats.errors.get(code, 0))
        yield errors
        layers = GaugeMetricFamily(
            "murror_channel_layer_info", "1 for the channel layer in use", labels=["pod", "layer"]
        )
        for name in LayerName:
            layers.add_metric([self.pod, name.value], 1 if name is self.layer else 0)
        yield layers

    def _gauge(self, name: str, documentation: str, value: float) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(name, documentation, labels=["pod"])
        gauge.add_metric([self.pod], value)
        return gauge

    def _counter(self, name: str, documentation: str, value: float) -> CounterMetricFamily:
        counter = CounterMetricFamily(name, documentation, labels=["pod"])
        counter.add_metric([self.pod], value)
        return counter


def metrics_text(rooms: PodRooms | None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PodCollector(pod_stats, rooms, settings.POD_NAME, layer_status().name))
    return generate_latest(registry)


async def metrics(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The ASGI handler; a first scrape starts the pod's rooms, so an idle pod publishes too."""
    body = metrics_text(await pod_rooms())
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", CONTENT_TYPE_PLAIN_0_0_4.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
