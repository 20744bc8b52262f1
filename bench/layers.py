"""Which channels_redis layer carries the pod-level fan-out: RedisPubSubChannelLayer or the core
RedisChannelLayer, side by side on one redis-server.

Two "pods" (processes, each one layer instance with one channel joined to every room's group),
one sender doing group_send at stepped rates over 100 rooms. Per step: emits/s asked and done,
deliveries/s, loss, p50/p99 latency. This isolates the transport: no sockets, no daphne.

    .venv/bin/python bench/layers.py            # writes bench/results/layers.{md,json}
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import RedisServer

ROOMS = 100
PODS = 2
STEP_SECONDS = 5
RATES = [500, 2000, 8000]
FIGURES = ["rate", "emits_per_s", "deliveries_per_s", "loss_pct", "p50_ms", "p99_ms"]
RUNS = 3
BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}


def layer_new(backend: str, port: int):
    from django.utils.module_loading import import_string

    return import_string(BACKENDS[backend])(hosts=[{"host": "127.0.0.1", "port": port}])


def pod_main(backend: str, port: int, ready, results, seconds: float) -> None:
    async def run() -> None:
        layer = layer_new(backend, port)
        channel = await layer.new_channel("pod.")
        for room in range(ROOMS):
            await layer.group_add(f"room.r{room}", channel)
        ready.set()
        latencies: list[float] = []
        failure = ""
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                message = await asyncio.wait_for(layer.receive(channel), deadline - time.time())
            except TimeoutError:
                break
            except Exception as error:  # the layer itself failed: report it, do not hang
                failure = f"{type(error).__name__}: {error}"
                break
            latencies.append(time.time() - message["ts"])
        results.put((latencies, failure))

    asyncio.run(run())


async def send_at(backend: str, port: int, rate: int) -> int:
    layer = layer_new(backend, port)
    sent = 0
    started = time.perf_counter()
    text = json.dumps({"type": "event", "room": "r", "event": "e", "data": "x" * 64})
    while (elapsed := time.perf_counter() - started) < STEP_SECONDS:
        due = int(elapsed * rate)
        while sent < due:
            message = {"type": "room.event", "room": "r", "text": text, "ts": time.time()}
            await layer.group_send(f"room.r{sent % ROOMS}", message)
            sent += 1
        await asyncio.sleep(0.002)
    await layer.flush()
    return sent


def step(backend: str, port: int, rate: int) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    readies = [context.Event() for _ in range(PODS)]
    pods = [
        context.Process(target=pod_main, args=(backend, port, ready, results, STEP_SECONDS + 8))
        for ready in readies
    ]
    for pod in pods:
        pod.start()
    for ready in readies:
        assert ready.wait(30), "pod did not start"
    sent = asyncio.run(send_at(backend, port, rate))
    received = [results.get(timeout=60) for _ in pods]
    latencies = sorted(latency for pod_latencies, _ in received for latency in pod_latencies)
    failures = sorted({failure for _, failure in received if failure})
    for pod in pods:
        pod.join(timeout=30)
    expected = sent * PODS
    return {
        "rate": rate,
        "emits_per_s": sent / STEP_SECONDS,
        "deliveries_per_s": len(latencies) / STEP_SECONDS,
        "loss_pct": 100 * (1 - len(latencies) / expected) if expected else 0.0,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "receiver_failures": len(failures),
        "failure": "; ".join(failures),
    }


def median_of_runs(runs: list[dict]) -> dict:
    """Medians of the figures; a layer's failures are kept, not averaged away."""
    medians = {key: statistics.median(run[key] for run in runs) for key in FIGURES}
    failures = [run["failure"] for run in runs if run["failure"]]
    return {
        **medians,
        "runs_with_failures": len(failures),
        "failure": "; ".join(sorted(set(failures))),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        server = RedisServer(Path(workdir)).start()
        try:
            table = {
                backend: [
                    median_of_runs([step(backend, server.port, rate) for _ in range(RUNS)])
                    for rate in RATES
                ]
                for backend in BACKENDS
            }
        finally:
            server.stop()
    out = Path(__file__).parent / "results"
    (out / "layers.json").write_text(json.dumps(table, indent=2))
    lines = [
        f"Layer comparison: {PODS} pods x {ROOMS} rooms, {STEP_SECONDS} s per step, "
        f"median of {RUNS} runs",
        "",
        "| emits/s asked | layer | emits/s done | deliveries/s | loss | p50 ms | p99 ms"
        " | failed runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for index, rate in enumerate(RATES):
        for backend in BACKENDS:
            row = table[backend][index]
            lines.append(
                f"| {rate} | {backend} | {row['emits_per_s']:.0f} | {row['deliveries_per_s']:.0f}"
                f" | {row['loss_pct']:.1f}% | {row['p50_ms']:.1f} | {row['p99_ms']:.1f}"
                f" | {row['runs_with_failures']} of {RUNS} |"
            )
    failures = sorted({row["failure"] for rows in table.values() for row in rows if row["failure"]})
    lines += ["", *(f"- a receiver failed: {failure}" for failure in failures)]
    (out / "layers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
