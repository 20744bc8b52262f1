"""bench/results/latest.{json,md}: every figure of every stack, and each product stack's ratio to
the reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.scenarios import best_step

STEP_COLUMNS = [
    ("deliveries/s", "deliveries_per_s", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p95 ms", "p95_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("loss %", "loss_pct", "{:.2f}"),
    ("server CPU s", "server_cpu_s", "{:.2f}"),
    ("busiest pod %", "server_busy_pct", "{:.0f}"),
    ("µs CPU/delivery", "server_us_per_delivery", "{:.1f}"),
    ("redis CPU s", "redis_cpu_s", "{:.2f}"),
    ("generator CPU s", "generator_cpu_s", "{:.2f}"),
    ("generator µs/delivery", "generator_us_per_delivery", "{:.1f}"),
    ("generator busy %", "generator_busy_pct", "{:.0f}"),
]


# The product through /ws/ and through /socket.io/, then the Node reference: the last is what
# every ratio divides by.
STACKS = ["product", "product-sio", "reference"]


def stacks_run(cluster: bool) -> list[str]:
    """The stacks of a run in table order; product-cluster (bench/run.py --cluster) before the
    reference, which stays last."""
    *products, reference = STACKS
    return [*products, *(["product-cluster"] if cluster else []), reference]


# The stack whose fanout best stands beside each adapter's ceiling.
CEILING_STACKS = {"product": "product", "socketio": "reference"}

# The figures of a stack that had no step with p99 < 100 ms and nothing lost (or no fanout run).
_NO_STEP = {"deliveries_per_s": math.nan, "generator_busy_pct": math.nan}


def ratio(product: float, reference: float) -> str:
    if math.isnan(product) or math.isnan(reference):
        return "n/a"
    if reference == 0:
        return "=" if product == 0 else "n/a"
    return f"{product / reference:.2f}x"


def _fmt(value: float, pattern: str) -> str:
    return "n/a" if isinstance(value, float) and math.isnan(value) else pattern.format(value)


def step_table(label: str, steps: list[dict], stacks: list[str]) -> list[str]:
    """One row per step and stack, then each stack's ratio to the last (the reference)."""
    head = [label, "stack", *(name for name, _, _ in STEP_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for step in steps:
        for stack in stacks:
            cells = [_fmt(step[stack][key], pattern) for _, key, pattern in STEP_COLUMNS]
            lines.append(f"| {step['label']} | {stack} | " + " | ".join(cells) + " |")
        *products, reference = stacks
        for product in products:
            cells = [ratio(step[product][key], step[reference][key]) for _, key, _ in STEP_COLUMNS]
            lines.append(
                f"| {step['label']} | **{product}/{reference}** | " + " | ".join(cells) + " |"
            )
    return lines


def summary(results: dict, stacks: list[str]) -> list[str]:
    rows: list[tuple[str, dict[str, float], str]] = []
    if "fanout" in results:
        best = results["fanout"]["best"]
        rows.append(("fanout: max deliveries/s, p99 < 100 ms, no loss", best, "{:.0f}"))
    if "rooms" in results:
        step = results["rooms"]["steps"][0]
        rows.append(("rooms: loss %", {s: step[s]["loss_pct"] for s in stacks}, "{:.2f}"))
        rows.append(("rooms: p99 ms", {s: step[s]["p99_ms"] for s in stacks}, "{:.1f}"))
    if "idle" in results:
        idle = results["idle"]
        label = f"idle: KiB per connection ({idle[stacks[0]]['connections']} connections)"
        rows.append((label, {s: idle[s]["kib_per_connection"] for s in stacks}, "{:.1f}"))
    for size in results.get("scale", {}).get("sizes", []):
        step = size["step"]
        label = f"scale: server µs CPU per delivery, room of {size['size']}"
        rows.append((label, {s: step[s]["server_us_per_delivery"] for s in stacks}, "{:.1f}"))
    *products, reference = stacks
    head = ["figure", *stacks, *(f"{p}/{reference}" for p in products)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, values, pattern in rows:
        cells = [_fmt(values[s], pattern) for s in stacks]
        cells += [ratio(values[p], values[reference]) for p in products]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict) -> str:
    meta = results["meta"]
    stacks = meta.get("stacks", ["product", "reference"])
    kind = "quick smoke run" if meta["quick"] else "full steps"
    scenarios = ", ".join(name for name in results if name != "meta")
    lines = [
        f"# Benchmark results ({kind}: {scenarios})",
        "",
        f"{meta['date']}, {meta['cpus']} CPUs, load average at start {meta['loadavg']}; "
        f"{meta['seconds']:g} s per step, median of {meta['runs']} runs, "
        f"{meta['processes']} generator process(es) per stack.",
        f"product: {meta['product']}; reference: {meta['reference']}."
        + (f" product-cluster: {meta['cluster']}." if meta.get("cluster") else ""),
        "",
        "## Summary",
        "",
        *summary(results, stacks),
    ]
    if "fanout" in results:
        steps = [{**s, "label": f"{s['rate']:g} emits/s"} for s in results["fanout"]["steps"]]
        lines += ["", "## fanout: 1 room of 200 (100 per pod), one sender", ""]
        lines += step_table("rate", steps, stacks)
    if "rooms" in results:
        steps = [{**s, "label": "2 emits/s each"} for s in results["rooms"]["steps"]]
        lines += ["", "## rooms: 100 rooms x 4 (2 per pod), every member emitting", ""]
        lines += step_table("rate", steps, stacks)
    if "idle" in results:
        lines += ["", "## idle: connections that joined a room (rooms of 4, 2 per pod)", ""]
        lines += [
            "| stack | connections | connect + join s | RSS before (KiB, per pod) | RSS after "
            "| KiB/connection |"
        ]
        lines += ["|---|---|---|---|---|---|"]
        for stack in stacks:
            i = results["idle"][stack]
            lines.append(
                f"| {stack} | {i['connections']} | {i['connect_s']:.1f} | {i['rss_before_kib']} "
                f"| {i['rss_after_kib']} | {i['kib_per_connection']:.1f} |"
            )
    if "scale" in results:
        steps = [
            {**s["step"], "label": f"{s['size']} ({s['step']['rate']:g} emits/s)"}
            for s in results["scale"]["sizes"]
        ]
        lines += ["", "## scale: one sender, rooms of growing size, same deliveries/s", ""]
        lines += step_table("room size", steps, stacks)
        lines += ["", "| room size | stack | connect + join s | pods' idle CPU % (no traffic) |"]
        lines += ["|---|---|---|---|"]
        for size in results["scale"]["sizes"]:
            for stack in stacks:
                lines.append(
                    f"| {size['size']} | {stack} | {size['connect_s'][stack]:.1f} "
                    f"| {size['idle_cpu_pct'][stack]:.1f} |"
                )
    if "ceiling" in results:
        lines += [
            "",
            "## generator ceiling: the same generator against reference/echo_fanout.js",
            "",
            "The generator is not what limits a stack when its busiest process is well under "
            "100 % busy at the stack's best fanout step (the most deliveries/s with p99 < 100 ms "
            "and nothing lost). Beside that: the most the generator took, per protocol adapter, "
            "from a near-free broadcast server (one Node process, no Redis), and how busy the "
            "generator and that server were at its top step (100 % is one saturated core). Being "
            "one process, the echo server can run out before the generator does.",
            "",
            "| adapter | stack's fanout best | generator busy % there "
            "| echo server's best | top step: generator busy % | top step: echo server busy % |",
            "|---|---|---|---|---|---|",
        ]
        fanout_steps = results.get("fanout", {}).get("steps", [])
        for adapter, ceiling in results["ceiling"].items():
            best = best_step(fanout_steps, CEILING_STACKS.get(adapter, adapter)) or _NO_STEP
            top = ceiling["steps"][-1][f"echo-{adapter}"]
            lines.append(
                f"| {adapter} | {_fmt(best['deliveries_per_s'], '{:.0f}')} "
                f"| {_fmt(best['generator_busy_pct'], '{:.0f}')} "
                f"| {ceiling['best']:.0f} | {top['generator_busy_pct']:.0f} "
                f"| {top['server_busy_pct']:.0f} |"
            )
        for adapter, ceiling in results["ceiling"].items():
            steps = [{**s, "label": f"{s['rate']:g} emits/s"} for s in ceiling["steps"]]
            lines += ["", f"{adapter} adapter:", ""]
            lines += step_table("rate", steps, [f"echo-{adapter}"])
    return "\n".join(lines) + "\n"


def _nan_to_none(value):
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def write(results: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(_nan_to_none(results), indent=2) + "\n")
    text = markdown(results)
    (out / "latest.md").write_text(text)
    return text
