"""The Python side of bench/loadgen.js: a group of generator processes holding one stack's
members, driven step by step, their answers merged into one row of figures."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.procs import BENCH, cpu_seconds

LOG_BASE = math.log(1.01)  # loadgen.js's histogram: bucket i is about 1.01^i microseconds


@dataclass(frozen=True)
class Member:
    url: str
    room: str
    sender: int = -1  # >= 0: this member emits, with this number in its events


@dataclass
class Stack:
    """What a generator needs to know of a running stack, and which processes to watch."""

    name: str  # "product", "product-sio", "reference", or an echo server's name
    adapter: str  # loadgen.js's adapter: "product" (/ws/) or "socketio"
    urls: list[str]  # one per pod; members go to them in turn
    pids: list[int]  # the pods' processes
    shared_pids: list[int] = field(default_factory=list)  # redis-server


def percentile_ms(histogram: Counter[int], fraction: float) -> float:
    total = sum(histogram.values())
    if not total:
        return math.nan
    wanted, seen = fraction * total, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= wanted:
            return math.exp((bucket + 0.5) * LOG_BASE) / 1000
    return math.nan


class Generator:
    """One `node bench/loadgen.js` process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(BENCH / "loadgen.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, **command) -> None:
        assert self.process.stdin
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict:
        assert self.process.stdout
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited ({self.process.wait()})")
        answer = json.loads(line)
        if not answer.pop("ok"):
            raise RuntimeError(f"load generator: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask(cmd="close")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class GeneratorGroup:
    """`processes` generators sharing the members of one stack; each member is on one of them."""

    def __init__(self, stack: Stack, members: list[Member], processes: int) -> None:
        self.stack = stack
        self.generators = [Generator() for _ in range(processes)]
        # Consecutive pairs of members (one on each pod) go to the same generator.
        self.shares = [members[i::processes] for i in range(processes)]
        self.room_sizes = Counter(member.room for member in members)
        self.steps = 0

    def _all(self, commands: list[dict]) -> list[dict]:
        for generator, command in zip(self.generators, commands, strict=True):
            generator.ask(**command)
        return [generator.answer() for generator in self.generators]

    def connect(self) -> float:
        started = time.monotonic()
        self._all(
            [
                {
                    "cmd": "connect",
                    "stack": self.stack.adapter,
                    "members": [[m.url, m.room, m.sender] for m in share],
                }
                for share in self.shares
            ]
        )
        return time.monotonic() - started

    def idle_cpu(self, seconds: float) -> float:
        """The pods' CPU, in % of one core, while the members are connected and silent."""
        before = sum(cpu_seconds(pid) for pid in self.stack.pids)
        time.sleep(seconds)
        return 100 * (sum(cpu_seconds(pid) for pid in self.stack.pids) - before) / seconds

    def step(self, rate: float, seconds: float, drain: float) -> dict:
        """Every sender emits `rate`/s for `seconds`; wait up to `drain` s for the stragglers."""
        self.steps += 1
        pids = self.stack.pids + self.stack.shared_pids
        generator_pids = [g.process.pid for g in self.generators]
        cpu_before = [cpu_seconds(pid) for pid in pids + generator_pids]
        main_before = [cpu_seconds(pid, thread=pid) for pid in generator_pids]
        started = time.monotonic()
        send = {"cmd": "send", "step": self.steps, "rate": rate, "seconds": seconds}
        sent = self._all([send] * len(self.generators))
        emits = Counter()
        for answer in sent:
            emits.update(answer["emits"])
        drains = []
        for share in self.shares:
            local = Counter(member.room for member in share)
            expected = sum(count * local[room] for room, count in emits.items())
            drains.append({"cmd": "drain", "expected": expected, "timeout": drain})
        got = self._all(drains)
        wall = time.monotonic() - started
        cpu = [
            cpu_seconds(pid) - before
            for pid, before in zip(pids + generator_pids, cpu_before, strict=True)
        ]
        main = [
            cpu_seconds(pid, thread=pid) - b
            for pid, b in zip(generator_pids, main_before, strict=True)
        ]
        pods = len(self.stack.pids)
        histogram: Counter[int] = Counter()
        for answer in got:
            histogram.update({bucket: count for bucket, count in answer["histogram"]})
        expected = sum(count * self.room_sizes[room] for room, count in emits.items())
        received = sum(a["received"] for a in got)
        duplicates = sum(a["duplicates"] for a in got)
        first = min((a["first_at"] for a in got if a["first_at"]), default=0)
        last = max((a["last_at"] for a in got), default=0)
        window = max(seconds, (last - first) / 1000)
        return {
            "emits": sum(emits.values()),
            "emits_per_s": sum(emits.values()) / seconds,
            "expected": expected,
            "received": received,
            "duplicates": duplicates,
            "late": sum(a["late"] for a in got),
            "errors": sum(a["errors"] for a in got),
            "loss_pct": 100 * (1 - (received - duplicates) / expected) if expected else 0.0,
            "deliveries_per_s": received / window,
            "p50_ms": percentile_ms(histogram, 0.50),
            "p95_ms": percentile_ms(histogram, 0.95),
            "p99_ms": percentile_ms(histogram, 0.99),
            "wall_s": wall,
            "server_cpu_s": sum(cpu[:pods]),
            "redis_cpu_s": sum(cpu[pods : len(pids)]),
            "generator_cpu_s": sum(cpu[len(pids) :]),
            "generator_us_per_delivery": 1e6 * sum(cpu[len(pids) :]) / received
            if received
            else math.nan,
            # The busiest generator's main thread (its event loop), in % of the time from the
            # first emit to the last delivery.
            "generator_busy_pct": 100 * max(main) / window,
            "generator_loop_delay_p99_ms": max(a["loop_delay_p99_ms"] for a in got),
            # The busiest pod, in % of one core over the same time: 100 is a saturated pod.
            "server_busy_pct": 100 * max(cpu[:pods]) / window,
            "server_us_per_delivery": 1e6 * sum(cpu[:pods]) / received if received else math.nan,
        }

    def close(self) -> None:
        for generator in self.generators:
            generator.close()
