"""This pod's connection stats, counted in memory: plain integer adds on the message path,
never a network round trip or a database write. Snapshots and /metrics read them."""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime.rooms import PodRooms

SNAPSHOT_ROOMS = 50
SNAPSHOT_CONNECTIONS = 100


@dataclass
class PodStats:
    started_at: float = field(default_factory=time.time)
    connections: int = 0
    peak_connections: int = 0
    connects: int = 0
    disconnects: int = 0
    joins: int = 0
    messages_in: int = 0
    messages_out: int = 0
    # Failed Redis operations of this pod, whatever they were for (realtime.outage counts them).
    redis_errors: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def connection_opened(self) -> None:
        self.connects += 1
        self.connections += 1
        self.peak_connections = max(self.peak_connections, self.connections)

    def connection_closed(self) -> None:
        self.disconnects += 1
        self.connections -= 1


pod_stats = PodStats()


def busiest(counts: Mapping[str, int], limit: int) -> dict[str, int]:
    """The `limit` largest counts, largest first (ties by name, so pages do not flicker)."""
    top = heapq.nsmallest(limit, counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(top)


def stats_snapshot(
    stats: PodStats,
    rooms: PodRooms | None,
    pod_name: str,
    layer: str,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready picture of this pod; rates per second are measured against `previous`."""
    now = time.time()
    local_counts = rooms.local_counts() if rooms else {}
    # PodRooms.connections is insertion-ordered: the newest connections are last.
    newest_first = (
        islice(reversed(rooms.connections.values()), SNAPSHOT_CONNECTIONS) if rooms else ()
    )
    snapshot: dict[str, Any] = {
        "pod": pod_name,
        "pod_id": rooms.pod_id if rooms else pod_name,
        "channel": rooms.channel if rooms else "",
        "layer": layer,
        "connections": stats.connections,
        "peak": stats.peak_connections,
        "connects": stats.connects,
        "disconnects": stats.disconnects,
        "joins": stats.joins,
        "messages_in": stats.messages_in,
        "messages_out": stats.messages_out,
        "errors": dict(stats.errors),
        "redis_errors": stats.redis_errors,
        "dropped": rooms.dropped if rooms else 0,
        "forward_failures": rooms.forwarding.failures if rooms else 0,
        "rooms_count": len(local_counts),
        "rooms": busiest(local_counts, SNAPSHOT_ROOMS),
        "open_connections": [
            {
                "id": connection.connection_id,
                "rooms": len(connection.rooms),
                "connected_at": connection.connected_at,
                "user": connection.user.username if connection.user else None,
            }
            for connection in newest_first
        ],
        "started_at": stats.started_at,
        "taken_at": now,
    }
    snapshot.update(_rates(snapshot, previous))
    return snapshot


def _rates(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, float]:
    elapsed = current["taken_at"] - previous["taken_at"] if previous else 0.0
    rates = {}
    for name in ("messages_in", "messages_out"):
        change = max(current[name] - previous[name], 0) if previous else 0
        rates[f"{name}_per_second"] = round(change / elapsed, 2) if elapsed > 0 else 0.0
    return rates
