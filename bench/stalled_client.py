"""What a /ws/ client that stops reading a busy room costs its pod: one daphne pod, a room with
a reader, a sender and one client that joined and never reads again (its kernel receive buffer
4 KiB); the sender emits 1 kB events at a steady rate, and the pod's RSS is sampled each
second. daphne buffers what the socket cannot take, in the pod's memory, until the pod closes
the client (REALTIME_SLOW_CLIENT_SECONDS, realtime/pod/slow_readers.py) or, with that at 0,
daphne's ping timeout (--ping-interval 20 + --ping-timeout 30 s by default). Not run by CI.

    .venv/bin/python bench/stalled_client.py --rate 100 --seconds 70
    .venv/bin/python bench/stalled_client.py --rate 100 --seconds 110 --slow-client-seconds 0
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import DaphnePod
from tests.support.ws_client import WsClient, stalled_client


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100, help="events per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--size", type=int, default=1000, help="bytes of data per event")
    parser.add_argument("--slow-client-seconds", default="10", help="0: the pod never closes it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        env = {
            "REALTIME_RATE": "100000",
            "REALTIME_BURST": "100000",
            "REALTIME_SLOW_CLIENT_SECONDS": args.slow_client_seconds,
        }
        pod = DaphnePod(Path(workdir), env)
        pod.start().wait_listening()
        try:
            sender, reader = await WsClient.connect(pod.ws_url), await WsClient.connect(pod.ws_url)
            for client in (sender, reader):
                await client.join("busy")
            stalled = await asyncio.to_thread(stalled_client, pod.port)
            assert pod.process
            baseline = rss_kib(pod.process.pid)
            pad, started, sent = "x" * args.size, time.monotonic(), 0
            print("seconds  sent  pod RSS growth (KiB)")
            while (elapsed := time.monotonic() - started) < args.seconds:
                target = int(elapsed * args.rate)
                while sent < target:
                    await sender.emit("busy", "bulk", {"n": sent, "pad": pad}, echo=False)
                    await reader.receive()
                    sent += 1
                if int(elapsed) != int(elapsed - 1 / args.rate):
                    print(f"{elapsed:7.0f} {sent:5d}  {rss_kib(pod.process.pid) - baseline:8d}")
                await asyncio.sleep(1 / args.rate)
            stalled.close()
        finally:
            pod.stop()


if __name__ == "__main__":
    asyncio.run(main())
