"""Connections per pod over the last hour, as coordinates for a server-rendered SVG.

Only numbers are computed here; the template writes the SVG, so pod names are escaped there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 10, 24
SPAN_SECONDS = 3600
COLORS = ("#417690", "#d9822b", "#3b9a5a", "#b23c59", "#7d5ba6", "#8c6d31", "#2a8fbd", "#c04f15")


@dataclass(frozen=True)
class ChartLine:
    label: str
    color: str
    points: str
    last: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    lines: list[ChartLine]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def chart_build(history: Mapping[str, Sequence[tuple[float, int]]], now: float) -> Chart:
    """Lines of (time, connections) per series, over the hour ending `now`."""
    start = now - SPAN_SECONDS
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    recent: dict[str, list[tuple[float, int]]] = {}
    for label, points in sorted(history.items()):
        if shown := [(t, c) for t, c in sorted(points) if t >= start]:
            recent[label] = shown
    y_max = _nice_ceiling(max((c for points in recent.values() for _, c in points), default=0))

    def x(taken_at: float) -> float:
        return LEFT + max(0.0, taken_at - start) / SPAN_SECONDS * plot_w

    def y(count: float) -> float:
        return TOP + plot_h - count / y_max * plot_h

    lines = []
    for index, (label, shown) in enumerate(recent.items()):
        coordinates = " ".join(f"{x(t):.1f},{y(c):.1f}" for t, c in shown)
        lines.append(ChartLine(label, COLORS[index % len(COLORS)], coordinates, shown[-1][1]))
    x_ticks = [
        Tick(x(now - minutes * 60), f"-{minutes} min" if minutes else "now")
        for minutes in (60, 45, 30, 15, 0)
    ]
    y_ticks = [Tick(y(value), str(value)) for value in (0, y_max // 2, y_max)]
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, TOP + plot_h, lines, x_ticks, y_ticks)


def _nice_ceiling(value: int) -> int:
    """The smallest of 2, 5, 10, 20, 50, 100, ... that is at least `value`: round axis labels."""
    if value <= 2:
        return 2
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return max(2, step * magnitude)
    return 10 * magnitude
