"""This checkout's product beside another checkout's (an earlier commit), in one run, under the
same generator, steps alternating: what a change did, with the noise of the machine the same for
both. Not run by CI.

    git worktree add /tmp/before <rev>
    .venv/bin/python bench/ab.py /tmp/before              # fanout, rooms: CPU per delivery, p99
    .venv/bin/python bench/ab.py /tmp/before --rates 50,200,500 --runs 5

Both run as `daphne murror.asgi:application`, two pods each, each stack on a redis-server of its
own: pub/sub channels ignore the db number, so on one Redis each stack would hear the other's
room events.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scenarios
from bench.generator import Stack
from bench.procs import nofile_raise, npm_ci
from bench.run import PRODUCT_ENV
from tests.support.servers import PROJECT_ROOT, DaphnePod, RedisServer

TITLES = {
    "fanout": "fanout: 1 room of 200, one sender",
    "rooms": "rooms: 100 x 4, every member emitting 2/s",
}
FIGURES = ("server_us_per_delivery", "p50_ms", "p99_ms", "loss_pct", "deliveries_per_s")


def stacks_start(stack: ExitStack, workdir: Path, this: Path, other: Path) -> list[Stack]:
    result = []
    for name, root in (("this", this), ("other", other)):
        # A Redis each: pub/sub channels ignore the db number, and both use the same names.
        redis = RedisServer(workdir / f"redis-{name}").start()
        stack.callback(redis.stop)
        env = {"REDIS_URL": redis.url(), **PRODUCT_ENV}
        pods = [DaphnePod(workdir, env, f"{name}-{n}", root) for n in (1, 2)]
        for pod in pods:
            pod.start()
            stack.callback(pod.stop)
        for pod in pods:
            pod.wait_listening()
        pids = [pod.process.pid for pod in pods]
        result.append(Stack(name, "product", [p.ws_url for p in pods], pids, [redis.process.pid]))
    return result


def table(name: str, steps: list[dict]) -> str:
    lines = [
        f"### {name}",
        "",
        "| rate | figure | this | other | this/other |",
        "|---|---|---|---|---|",
    ]
    for step in steps:
        for figure in FIGURES:
            this, other = step["this"][figure], step["other"][figure]
            ratio = f"{this / other:.2f}x" if other else "n/a"
            lines.append(f"| {step['rate']:g} | {figure} | {this:.1f} | {other:.1f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--this", type=Path, default=PROJECT_ROOT, help="default: this checkout")
    parser.add_argument("--rates", default="50,200,500", help="fanout emits/s, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", default="fanout,rooms", help="scenarios, comma-separated")
    args = parser.parse_args()
    settings = scenarios.Settings(
        seconds=args.seconds,
        drain=5,
        runs=args.runs,
        processes=2,
        fanout_rates=[int(rate) for rate in args.rates.split(",")],
        ceiling_rates=[],
        idle_connections=0,
        scale_sizes=[],
        scale_deliveries=0,
    )
    nofile_raise()
    npm_ci()
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as stack:
        stacks = stacks_start(stack, Path(workdir), args.this.resolve(), args.other.resolve())
        results = {}
        for name in args.only.split(","):
            print(f"{name}:", flush=True)
            results[name] = getattr(scenarios, name)(stacks, settings)["steps"]
    for name, steps in results.items():
        print(table(TITLES[name], steps))
    every_step = [step for steps in results.values() for step in steps]
    cpu = [step["this"]["server_us_per_delivery"] / step["other"]["server_us_per_delivery"]
           for step in every_step]  # fmt: skip
    print(f"\nmedian CPU per delivery, this/other: {statistics.median(cpu):.2f}x")


if __name__ == "__main__":
    main()
