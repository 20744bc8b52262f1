"""A pod's stats snapshot: its counters, its rooms and its newest connections, JSON-ready."""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from realtime.ops.counters import PodCounters

if TYPE_CHECKING:
    from realtime.pod.lifecycle import Pod

SNAPSHOT_ROOMS = 50
SNAPSHOT_CONNECTIONS = 100


def busiest(counts: Mapping[str, int], limit: int) -> dict[str, int]:
    """The `limit` largest counts, largest first (ties by name, so pages do not flicker)."""
    top = heapq.nsmallest(limit, counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(top)


def stats_snapshot(pod: Pod, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-ready picture of `pod`; rates per second are measured against `previous`."""
    hub, counters = pod.hub, pod.counters
    local_counts = hub.local_counts()
    # Pod.connections is insertion-ordered: the newest connections are last.
    newest_first = islice(reversed(pod.connections.values()), SNAPSHOT_CONNECTIONS)
    snapshot = {
        **_counters_part(counters, hub.counters.delivered),
        "pod": pod.config.pod_name,
        "pod_id": pod.pod_id,
        "channel": hub.channel,
        "layer": pod.layer.value,
        "dropped": hub.dropped,
        "forward_failures": hub.forwarding.failures,
        "rooms_count": len(local_counts),
        "rooms": busiest(local_counts, SNAPSHOT_ROOMS),
        "open_connections": [
            {
                "id": connection.connection_id,
                "protocol": connection.protocol,
                "rooms": len(connection.room_names),
                "connected_at": connection.connected_at,
                "user": connection.user.username if connection.user else None,
            }
            for connection in newest_first
        ],
    }
    snapshot.update(_rates(snapshot, previous))
    return snapshot


def stats_snapshot_unstarted(pod_name: str, layer: str) -> dict[str, Any]:
    """What a process whose pod has not started yet shows: its name, its layer, nothing open."""
    snapshot = {
        **_counters_part(PodCounters(), 0),
        "pod": pod_name,
        "pod_id": pod_name,
        "channel": "",
        "layer": layer,
        "dropped": 0,
        "forward_failures": 0,
        "rooms_count": 0,
        "rooms": {},
        "open_connections": [],
    }
    snapshot.update(_rates(snapshot, None))
    return snapshot


def _counters_part(counters: PodCounters, delivered: int) -> dict[str, Any]:
    return {
        "connections": counters.connections,
        "peak": counters.peak_connections,
        "connects": counters.connects,
        "disconnects": counters.disconnects,
        "joins": counters.joins,
        "messages_in": counters.messages_in,
        # Frames to clients: replies and errors, and room events delivered.
        "messages_out": counters.messages_out + delivered,
        "errors": dict(counters.errors),
        "redis_errors": counters.redis_errors,
        "started_at": counters.started_at,
        "taken_at": time.time(),
    }


def _rates(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, float]:
    elapsed = current["taken_at"] - previous["taken_at"] if previous else 0.0
    rates = {}
    for name in ("messages_in", "messages_out"):
        change = max(current[name] - previous[name], 0) if previous else 0
        rates[f"{name}_per_second"] = round(change / elapsed, 2) if elapsed > 0 else 0.0
    return rates
