"""Soak: 2,000 WebSockets over 2 pods and 1 Redis, steady traffic for 5 minutes.

Reports lost messages (must be 0) and each pod's RSS over time (must be flat). Not run by CI.

    .venv/bin/python bench/soak.py [--seconds 300] [--connections 2000] [--emits 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets

from tests.support.servers import DaphnePod, RedisServer

ROOM_SIZE = 4  # 2 members on each pod


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Member:
    def __init__(self, index: int, room: str) -> None:
        self.index = index
        self.room = room
        self.received = 0
        self.connection: websockets.ClientConnection | None = None

    async def open(self, url: str) -> None:
        self.connection = await websockets.connect(url, open_timeout=30, max_queue=None)
        await self.connection.recv()
        await self.connection.send(json.dumps({"type": "join", "room": self.room}))
        await self.connection.recv()

    async def read_forever(self) -> None:
        assert self.connection
        async for frame in self.connection:
            if '"type":"event"' in frame:
                self.received += 1


async def soak(seconds: int, connections: int, emits_per_second: int) -> dict:
    with tempfile.TemporaryDirectory() as workdir_name:
        workdir = Path(workdir_name)
        redis = RedisServer(workdir / "redis").start()
        env = {"REDIS_URL": redis.url()}
        pods = [DaphnePod(workdir, env, f"soak-{n}").start() for n in (1, 2)]
        try:
            for pod in pods:
                pod.wait_listening()
            members = [Member(i, f"room-{i // ROOM_SIZE}") for i in range(connections)]
            for start in range(0, connections, 100):
                await asyncio.gather(
                    *(
                        m.open(pods[(m.index % ROOM_SIZE) // 2].ws_url)
                        for m in members[start : start + 100]
                    )
                )
            readers = [asyncio.create_task(m.read_forever()) for m in members]
            samples = [(0.0, [rss_kib(p.process.pid) for p in pods])]
            sent = 0
            started = time.monotonic()
            next_sample = 10.0
            while (elapsed := time.monotonic() - started) < seconds:
                due = int(elapsed * emits_per_second)
                while sent < due:
                    sender = members[sent % connections]
                    await sender.connection.send(
                        json.dumps(
                            {"type": "emit", "room": sender.room, "event": "soak", "data": sent}
                        )
                    )
                    sent += 1
                if elapsed >= next_sample:
                    samples.append((round(elapsed), [rss_kib(p.process.pid) for p in pods]))
                    next_sample += 10
                await asyncio.sleep(0.01)
            expected = sent * ROOM_SIZE
            deadline = time.monotonic() + 30
            while sum(m.received for m in members) < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            received = sum(m.received for m in members)
            for reader in readers:
                reader.cancel()
            errors = sum(p.log().count("Traceback") for p in pods)
        finally:
            for pod in pods:
                pod.stop()
            redis.stop()
    return {
        "seconds": seconds,
        "connections": connections,
        "emits_per_second": emits_per_second,
        "emits": sent,
        "deliveries_expected": expected,
        "deliveries_received": received,
        "lost": expected - received,
        "tracebacks_in_pod_logs": errors,
        "rss_kib": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--emits", type=int, default=200, help="emits per second, all rooms")
    args = parser.parse_args()
    result = asyncio.run(soak(args.seconds, args.connections, args.emits))
    out = Path(__file__).parent / "results"
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    first, last = result["rss_kib"][1], result["rss_kib"][-1]
    lines = [
        f"Soak: {result['connections']} connections over 2 pods, {result['seconds']} s, "
        f"{result['emits_per_second']} emits/s into rooms of {ROOM_SIZE}",
        "",
        f"- deliveries expected {result['deliveries_expected']}, received "
        f"{result['deliveries_received']}, lost {result['lost']}",
        f"- tracebacks in pod logs: {result['tracebacks_in_pod_logs']}",
        f"- RSS per pod at {first[0]} s: {first[1]} KiB; at {last[0]} s: {last[1]} KiB",
        "",
        "| t (s) | pod 1 RSS (KiB) | pod 2 RSS (KiB) |",
        "|---|---|---|",
        *(f"| {t} | {a} | {b} |" for t, (a, b) in result["rss_kib"]),
    ]
    (out / "soak.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
