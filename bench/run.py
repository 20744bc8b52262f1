"""The product (2 daphne pods, through /ws/ and through /socket.io/) beside the Node stack it
replaces (2 socket.io pods with the Redis adapter), one redis-server, one load generator: fanout,
rooms, idle, scale, and the generator's own ceiling. Writes bench/results/latest.{json,md}. Not
run by CI.

    .venv/bin/python bench/run.py            # the full run (about 20 minutes)
    .venv/bin/python bench/run.py --quick    # a smoke run: a few seconds per step
    .venv/bin/python bench/run.py --only fanout,rooms --max-room 1000
    .venv/bin/python bench/run.py --cluster    # and /ws/ pods on a 3-master Redis Cluster
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report, scenarios
from bench.generator import Stack
from bench.procs import NodeServer, nofile_raise, npm_ci
from tests.support.redis_cluster import RedisClusterServers
from tests.support.servers import DaphnePod, RedisServer

SCENARIOS = ["idle", "fanout", "rooms", "scale", "ceiling"]
# Senders must not be rate limited by the benchmark: raised through the environment, as any
# deployment would (the limit stays on, and every other check too).
PRODUCT_ENV = {"REALTIME_RATE": "100000", "REALTIME_BURST": "100000", "LOG_LEVEL": "WARNING"}


def settings_for(quick: bool, max_room: int) -> scenarios.Settings:
    sizes = [size for size in (10, 100, 1000, 10000) if size <= max_room]
    if quick:
        return scenarios.Settings(
            seconds=2,
            drain=2,
            runs=1,
            processes=2,
            fanout_rates=[10, 100, 500],
            ceiling_rates=[100, 200, 500, 1000],
            idle_connections=400,
            scale_sizes=sizes,
            scale_deliveries=5000,
        )
    return scenarios.Settings(
        seconds=10,
        drain=5,
        runs=3,
        processes=2,
        fanout_rates=[10, 50, 100, 200, 300, 400, 500, 1000],
        ceiling_rates=[100, 200, 500, 1000, 2000, 4000],
        idle_connections=2000,
        scale_sizes=sizes,
        scale_deliveries=20000,
    )


# The module each product pod runs as `python -m <module>`, with daphne's command line.
PRODUCT_SERVERS = {
    "daphne": "daphne",
    "uvloop": "murror.serve",  # the same daphne, its event loop from uvloop
}


def start_stacks(
    stack: ExitStack, workdir: Path, server: str, cluster: bool
) -> tuple[list[Stack], list[Stack]]:
    """redis-server, 2 product pods for /ws/ and 2 for /socket.io/, 2 reference pods, and the
    echo server for the ceiling; with `cluster`, 2 more /ws/ pods on a 3-master Redis Cluster.
    Each stack has pods of its own: on shared pods, one stack's members would take CPU and
    memory in the other's figures."""
    redis = RedisServer(workdir / "redis").start()
    stack.callback(redis.stop)
    redis_pid = redis.process.pid
    ws_pods, sio_pods = (
        [
            DaphnePod(workdir, {"REDIS_URL": redis.url(db=0), **PRODUCT_ENV}, f"{name}-{n}")
            for n in (1, 2)
        ]
        for name in ("product", "product-sio")
    )
    pods = [*ws_pods, *sio_pods]
    nodes = [
        NodeServer(workdir, "server.js", f"reference-{n}", {"REDIS_URL": redis.url(db=1)})
        for n in (1, 2)
    ]
    echo = NodeServer(workdir, "echo_fanout.js", "echo")
    for pod in pods:
        pod.start(module=PRODUCT_SERVERS[server])
        stack.callback(pod.stop)
    for node in [*nodes, echo]:
        node.start()
        stack.callback(node.stop)
    for process in [*pods, *nodes, echo]:
        process.wait_listening()
    echo_http = f"http://127.0.0.1:{echo.port}"
    echo_pid = [echo.process.pid]
    clustered = _cluster_stack(stack, workdir, server) if cluster else []
    return [
        Stack(
            "product",
            "product",
            [p.ws_url for p in ws_pods],
            [p.process.pid for p in ws_pods],
            [redis_pid],
        ),
        # The product through /socket.io/, under the client code that drives the reference.
        Stack(
            "product-sio",
            "socketio",
            [f"http://127.0.0.1:{p.port}" for p in sio_pods],
            [p.process.pid for p in sio_pods],
            [redis_pid],
        ),
        *clustered,
        Stack(
            "reference",
            "socketio",
            [f"http://127.0.0.1:{n.port}" for n in nodes],
            [n.process.pid for n in nodes],
            [redis_pid],
        ),
    ], [
        Stack("echo-product", "product", [f"ws://127.0.0.1:{echo.port}/ws/"] * 2, echo_pid),
        Stack("echo-socketio", "socketio", [echo_http] * 2, echo_pid),
    ]


def _cluster_stack(stack: ExitStack, workdir: Path, server: str) -> list[Stack]:
    """2 /ws/ pods on 3 masters; the rooms scenario's rooms hash over all three shards."""
    cluster = RedisClusterServers(workdir / "cluster", masters=3).start()
    stack.callback(cluster.stop)
    env = {"REDIS_URL": cluster.url(), **PRODUCT_ENV}
    pods = [DaphnePod(workdir, env, f"product-cluster-{n}") for n in (1, 2)]
    for pod in pods:
        pod.start(module=PRODUCT_SERVERS[server])
        stack.callback(pod.stop)
    for pod in pods:
        pod.wait_listening()
    node_pids = [process.pid for process in cluster.processes.values()]
    return [
        Stack(
            "product-cluster",
            "product",
            [p.ws_url for p in pods],
            [p.process.pid for p in pods],
            node_pids,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, a few s per step")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--max-room", type=int, default=10000, help="largest room in scale")
    parser.add_argument("--rates", help="fanout emits/s instead of the default steps, e.g. 600,800")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--cluster", action="store_true", help="add /ws/ pods on a 3-master Redis Cluster"
    )
    parser.add_argument(
        "--server", choices=PRODUCT_SERVERS, default="daphne", help="how the product pods run"
    )
    args = parser.parse_args()
    chosen = [name for name in SCENARIOS if name in args.only.split(",")]
    settings = settings_for(args.quick, args.max_room)
    if args.rates:
        rates = [int(rate) for rate in args.rates.split(",")]
        settings = dataclasses.replace(settings, fanout_rates=rates)
    nofile = nofile_raise()
    npm_ci()
    results: dict = {
        "meta": {
            "quick": args.quick,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "cpus": os.cpu_count(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "open_files_limit": nofile,
            "stacks": report.stacks_run(args.cluster),
            "product": f"2 pods ({args.server}, murror.asgi:application) for /ws/ and 2 for "
            "/socket.io/, REDIS_URL db 0",
            "cluster": "2 more /ws/ pods on a 3-master Redis Cluster (redis+cluster://)"
            if args.cluster
            else None,
            "reference": "2 node server.js pods (socket.io 4.8 + @socket.io/redis-adapter 8.3)",
            **settings.__dict__,
        }
    }
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as stack:
        stacks, echo_stacks = start_stacks(stack, Path(workdir), args.server, args.cluster)
        for name in chosen:
            print(f"{name}:", flush=True)
            if name == "ceiling":
                results[name] = scenarios.ceiling(echo_stacks, settings)
            else:
                results[name] = getattr(scenarios, name)(stacks, settings)
    print(report.write(results, args.out))


if __name__ == "__main__":
    main()
