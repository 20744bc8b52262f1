"""/metrics: Prometheus text read from this pod's counters at scrape time.

Plain ASGI before Django, like /healthz: any Host header, no database. A custom collector reads
the pod's counters and its hub's when scraped, so nothing is counted twice and the message path
pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from realtime.pod.layers import LayerName
from realtime.pod.lifecycle import Pod, pod_serving
from realtime.protocols.rules import ErrorCode

PROTOCOLS = ("socketio", "ws")


class PodCollector(Collector):
    """This pod's stats as Prometheus metrics, each labelled with the pod's name."""

    def __init__(self, pod: Pod) -> None:
        self.pod = pod
        self.name = pod.config.pod_name

    def collect(self) -> Iterator[Metric]:
        stats, hub = self.pod.counters, self.pod.hub
        yield self._gauge("murror_connections", "Open WebSockets on this pod", stats.connections)
        yield self._gauge(
            "murror_connections_peak", "Most WebSockets open at once", stats.peak_connections
        )
        yield self._gauge("murror_rooms", "Rooms with members on this pod", len(hub.rooms))
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
            "murror_messages_sent_total",
            "Frames sent to clients: replies, errors and room events",
            stats.messages_out + hub.counters.delivered,
        )
        yield self._counter(
            "murror_dropped_events_total",
            "Room events dropped because the pod's inbox or outbox was full",
            hub.dropped,
        )
        yield self._counter(
            "murror_forward_failures_total",
            "Room events that reached this pod only: sending to other pods failed",
            hub.forwarding.failures,
        )
        yield self._counter(
            "murror_delivery_failures_total",
            "Room events a member's connection failed to take (the others still got them)",
            hub.counters.delivery_failures,
        )
        yield self._counter(
            "murror_unreadable_messages_total",
            "Messages from other pods or Channels code that this pod could not read",
            hub.counters.unreadable,
        )
        yield self._counter(
            "murror_redis_errors_total",
            "Failed Redis operations: forwarding, member counts, heartbeats, stats publishes",
            stats.redis_errors,
        )
        refused = CounterMetricFamily(
            "murror_connections_refused_total",
            "Connections refused for a cap: REALTIME_MAX_CONNECTIONS (pod_full) or "
            "REALTIME_MAX_CONNECTIONS_PER_ADDRESS (too_many_from_address)",
            labels=["pod", "reason"],
        )
        for reason in ("pod_full", "too_many_from_address"):
            refused.add_metric([self.name, reason], stats.refused[reason])
        yield refused
        yield self._by_protocol(
            CounterMetricFamily,
            "murror_slow_clients_closed_total",
            "Connections closed for not reading what their rooms sent them",
            stats.slow_clients_closed,
        )
        yield self._by_protocol(
            GaugeMetricFamily,
            "murror_connections_by_protocol",
            "Open connections on this pod, by protocol",
            stats.connections_by_protocol,
        )
        yield self._by_protocol(
            CounterMetricFamily,
            "murror_connects_by_protocol_total",
            "Connections accepted, by protocol",
            stats.connects_by_protocol,
        )
        yield self._by_protocol(
            CounterMetricFamily,
            "murror_messages_received_by_protocol_total",
            "Messages from clients, by protocol",
            stats.messages_in_by_protocol,
        )
        errors = CounterMetricFamily(
            "murror_errors_total", "Error frames sent, by code", labels=["pod", "code"]
        )
        # Every code, 0 or not, so that a rate() has a series before the first error.
        for code in sorted({*(code.value for code in ErrorCode), *stats.errors}):
            errors.add_metric([self.name, code], stats.errors.get(code, 0))
        yield errors
        layers = GaugeMetricFamily(
            "murror_channel_layer_info", "1 for the channel layer in use", labels=["pod", "layer"]
        )
        for layer in LayerName:
            layers.add_metric([self.name, layer.value], 1 if layer is self.pod.layer else 0)
        yield layers

    def _by_protocol(
        self,
        family: type[GaugeMetricFamily] | type[CounterMetricFamily],
        name: str,
        documentation: str,
        values: Mapping[str, int],
    ) -> Metric:
        metric = family(name, documentation, labels=["pod", "protocol"])
        # Every protocol, 0 or not, so that a dashboard has its series from the start.
        for protocol in sorted({*PROTOCOLS, *values}):
            metric.add_metric([self.name, protocol], values.get(protocol, 0))
        return metric

    def _gauge(self, name: str, documentation: str, value: float) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(name, documentation, labels=["pod"])
        gauge.add_metric([self.name], value)
        return gauge

    def _counter(self, name: str, documentation: str, value: float) -> CounterMetricFamily:
        counter = CounterMetricFamily(name, documentation, labels=["pod"])
        counter.add_metric([self.name], value)
        return counter


def metrics_text(pod: Pod) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PodCollector(pod))
    return generate_latest(registry)


async def metrics(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The ASGI handler; a first scrape starts the pod's rooms, so an idle pod publishes too."""
    body = metrics_text(await pod_serving())
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
