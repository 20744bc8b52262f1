"""What a pod counts about its connections: plain integer adds on the message path, never a
network round trip or a database write. Snapshots and /metrics read them."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PodCounters:
    started_at: float = field(default_factory=time.time)
    connections: int = 0
    peak_connections: int = 0
    connects: int = 0
    disconnects: int = 0
    joins: int = 0
    messages_in: int = 0
    # Replies and errors; room events delivered are the hub's (FanoutCounters.delivered).
    messages_out: int = 0
    # Failed Redis operations of this pod, whatever they were for (each OutageLog reports here).
    redis_errors: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    # The same, by protocol ("ws", "socketio").
    connections_by_protocol: Counter[str] = field(default_factory=Counter)
    connects_by_protocol: Counter[str] = field(default_factory=Counter)
    messages_in_by_protocol: Counter[str] = field(default_factory=Counter)
    # Connections refused for a cap, by reason ("pod_full", "too_many_from_address").
    refused: Counter[str] = field(default_factory=Counter)
    # Connections closed for not reading what the room sends them, by protocol.
    slow_clients_closed: Counter[str] = field(default_factory=Counter)

    def connection_opened(self, protocol: str) -> None:
        self.connects += 1
        self.connections += 1
        self.peak_connections = max(self.peak_connections, self.connections)
        self.connects_by_protocol[protocol] += 1
        self.connections_by_protocol[protocol] += 1

    def connection_closed(self, protocol: str) -> None:
        self.disconnects += 1
        self.connections -= 1
        self.connections_by_protocol[protocol] -= 1

    def message_received(self, protocol: str) -> None:
        self.messages_in += 1
        self.messages_in_by_protocol[protocol] += 1

    def slow_client_closed(self, protocol: str) -> None:
        self.slow_clients_closed[protocol] += 1

    def redis_error(self) -> None:
        self.redis_errors += 1
