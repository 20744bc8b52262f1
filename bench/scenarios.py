"""The benchmark's scenarios. Each takes the running stacks (product first, then reference) and
returns plain data for bench/report.py; every step runs on both stacks, alternating which goes
first, `runs` times, and keeps the median of each figure."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass

from bench.generator import GeneratorGroup, Member, Stack
from bench.procs import rss_kib

P99_LIMIT_MS = 100.0


@dataclass(frozen=True)
class Settings:
    seconds: float  # per step
    drain: float  # how long to wait for stragglers after a step
    runs: int
    processes: int  # generator processes per stack
    fanout_rates: list[int]
    ceiling_rates: list[int]
    idle_connections: int
    scale_sizes: list[int]
    scale_deliveries: int  # per second, at every room size


def room_members(stack: Stack, rooms: int, size: int, senders: str) -> list[Member]:
    """`rooms` rooms of `size`, members alternating between the pods; senders "one" (the first
    member of each room), "all" or "none"."""
    members = []
    for room in range(rooms):
        for index in range(size):
            emits = senders == "all" or (senders == "one" and index == 0)
            sender = room * size + index if emits else -1
            # Room names of its own per stack: on one Redis, channels of the same name would
            # carry one stack's events to the other's pods.
            name = f"bench-{stack.name}-{room}"
            members.append(Member(stack.urls[index % len(stack.urls)], name, sender))
    return members


def median_row(rows: list[dict]) -> dict:
    return {
        key: statistics.median(row[key] for row in rows if not math.isnan(row[key]))
        if any(not math.isnan(row[key]) for row in rows)
        else math.nan
        for key in rows[0]
    }


def best_step(steps: list[dict], stack: str) -> dict | None:
    """The stack's figures at its step with the most deliveries/s, p99 under 100 ms and nothing
    lost; None when no step qualifies."""
    good = [
        step[stack]
        for step in steps
        if step[stack]["p99_ms"] < P99_LIMIT_MS and step[stack]["loss_pct"] <= 0
    ]
    return max(good, key=lambda figures: figures["deliveries_per_s"], default=None)


def best_rate(steps: list[dict], stack: str) -> float:
    best = best_step(steps, stack)
    return best["deliveries_per_s"] if best else 0.0


def _stepped(
    stacks: list[Stack], settings: Settings, groups: list[GeneratorGroup], rates: list[float]
) -> list[dict]:
    steps = []
    for rate in rates:
        rows: dict[str, list[dict]] = {stack.name: [] for stack in stacks}
        for run in range(settings.runs):
            order = groups if run % 2 == 0 else groups[::-1]
            for group in order:
                rows[group.stack.name].append(group.step(rate, settings.seconds, settings.drain))
        steps.append({"rate": rate, **{name: median_row(r) for name, r in rows.items()}})
        print(_progress(steps[-1], stacks), flush=True)
    return steps


def _progress(step: dict, stacks: list[Stack]) -> str:
    return f"  rate {step['rate']:g}/s: " + "; ".join(
        f"{s.name} {step[s.name]['deliveries_per_s']:.0f} deliveries/s, "
        f"p99 {step[s.name]['p99_ms']:.1f} ms, loss {step[s.name]['loss_pct']:.2f}%"
        for s in stacks
    )


def _with_groups(stacks: list[Stack], members_of, settings: Settings, run) -> dict:
    groups = [GeneratorGroup(s, members_of(s), settings.processes) for s in stacks]
    try:
        connect = {g.stack.name: g.connect() for g in groups}
        return {"connect_s": connect, **run(groups)}
    finally:
        for group in groups:
            group.close()


def fanout(stacks: list[Stack], settings: Settings, size: int = 200) -> dict:
    """1 room of `size` over 2 pods, one sender at stepped rates."""

    def run(groups: list[GeneratorGroup]) -> dict:
        steps = _stepped(stacks, settings, groups, settings.fanout_rates)
        return {"steps": steps, "best": {s.name: best_rate(steps, s.name) for s in stacks}}

    return _with_groups(stacks, lambda s: room_members(s, 1, size, "one"), settings, run)


def rooms(stacks: list[Stack], settings: Settings, count: int = 100, size: int = 4) -> dict:
    """`count` rooms of `size` (half on each pod), every member emitting 2/s."""

    def run(groups: list[GeneratorGroup]) -> dict:
        return {"steps": _stepped(stacks, settings, groups, [2])}

    return _with_groups(stacks, lambda s: room_members(s, count, size, "all"), settings, run)


def scale(stacks: list[Stack], settings: Settings) -> dict:
    """Rooms of growing size, one sender, the same deliveries/s: server CPU per delivery."""
    sizes = []
    for size in settings.scale_sizes:
        rate = settings.scale_deliveries / size
        print(f" room of {size}: {rate:g} emits/s", flush=True)

        def run(groups: list[GeneratorGroup], rate: float = rate) -> dict:
            # What the connections cost with no traffic, measured apart from the deliveries.
            idle = {g.stack.name: g.idle_cpu(settings.seconds) for g in groups}
            return {"idle_cpu_pct": idle, "step": _stepped(stacks, settings, groups, [rate])[0]}

        result = _with_groups(stacks, lambda s, n=size: room_members(s, 1, n, "one"), settings, run)
        sizes.append({"size": size, **result})
    return {"sizes": sizes}


def idle(stacks: list[Stack], settings: Settings, size: int = 4) -> dict:
    """Idle connections that joined a room (rooms of `size`, half on each pod): RSS per
    connection of each pod process."""
    result = {}
    connections = settings.idle_connections
    for stack in stacks:
        members = room_members(stack, connections // size, size, "none")
        group = GeneratorGroup(stack, members, settings.processes)
        try:
            before = [rss_kib(pid) for pid in stack.pids]
            connect_s = group.connect()
            time.sleep(settings.drain)  # let the servers settle after the burst of handshakes
            after = [rss_kib(pid) for pid in stack.pids]
        finally:
            group.close()
        per_pod = connections / len(stack.pids)
        result[stack.name] = {
            "connections": connections,
            "connect_s": connect_s,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "kib_per_connection": statistics.mean(
                (a - b) / per_pod for a, b in zip(after, before, strict=True)
            ),
        }
        print(f"  {stack.name}: {result[stack.name]['kib_per_connection']:.1f} KiB/connection")
    return result


def ceiling(echo_stacks: list[Stack], settings: Settings) -> dict:
    """The generator against a near-free broadcast server (reference/echo_fanout.js), once per
    adapter: what it can take when the server costs next to nothing."""
    result = {}
    for stack in echo_stacks:
        once = dataclasses.replace(settings, runs=1, fanout_rates=settings.ceiling_rates)
        steps = fanout([stack], once)["steps"]
        result[stack.adapter] = {"steps": steps, "best": best_rate(steps, stack.name)}
    return result
