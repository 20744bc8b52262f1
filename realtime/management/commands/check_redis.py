"""`manage.py check_redis`: what an operator runs first when pods stop sharing events."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandParser

from realtime.config import realtime_config
from realtime.redis.check import DEFAULT_TIMEOUT, RedisCheckResult, redis_check


class Command(BaseCommand):
    help = (
        "Diagnose REDIS_URL: PING latency, server info, and a message through the channel layer. "
        "Exit 0 healthy, 1 unhealthy, 2 REDIS_URL missing or malformed."
    )
    # The check must run even when another part of the project fails Django's system checks.
    requires_system_checks: ClassVar[list[str]] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--timeout",
            type=_seconds,
            default=DEFAULT_TIMEOUT,
            help=f"seconds the whole check may take (default {DEFAULT_TIMEOUT:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = asyncio.run(redis_check(realtime_config().redis.url, options["timeout"]))
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json()))
        else:
            self._report(result)
        if result.exit_code:
            raise SystemExit(result.exit_code)

    def _report(self, result: RedisCheckResult) -> None:
        for label, value in _human_fields(result):
            if value is not None:
                self.stdout.write(f"{label}: {value}")
        if result.info_error:
            self.stdout.write(f"Server info: not available ({result.info_error})")
        if result.healthy:
            self.stdout.write("Healthy")
        else:
            self.stderr.write(result.error or "")
            self.stderr.write(result.solution or "")


def _human_fields(result: RedisCheckResult) -> list[tuple[str, object]]:
    def unit(value: float | None, suffix: str) -> str | None:
        return None if value is None else f"{value:g} {suffix}"

    return [
        ("Redis URL", result.url),
        ("Mode", result.mode),
        ("Master", result.master),
        ("Sentinels", _sentinels(result.sentinels, result.quorum)),
        ("Cluster state", result.cluster_state),
        ("PING", unit(result.ping_ms, "ms")),
        ("Version", result.version),
        ("Role", result.role),
        ("Memory used", None if result.used_memory is None else _bytes(result.used_memory)),
        ("Connected clients", result.connected_clients),
        ("Ops/sec", result.ops_per_sec),
        ("Channel layer round trip", unit(result.layer_roundtrip_ms, "ms")),
        *((f"Shard {shard['primary']}", _shard(shard)) for shard in result.shards or ()),
    ]


def _sentinels(sentinels: dict[str, int] | None, quorum: bool | None) -> str | None:
    if sentinels is None:
        return None
    quorum_text = "quorum reached" if quorum else "NO QUORUM: a failover cannot happen"
    return f"{sentinels['reachable']} of {sentinels['total']} reachable, {quorum_text}"


def _shard(shard: dict[str, Any]) -> str:
    health = "healthy" if shard["healthy"] else "PRIMARY DOWN"
    return f"primary with {shard['replicas']} replica(s), {health}"


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit} ({count} bytes)"
        size /= 1024
    return f"{size:.1f} TiB ({count} bytes)"


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 3600, got {text!r}")
    return seconds
