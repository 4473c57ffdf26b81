"""Geometry for the P-GAP page's server-rendered charts: SVG line charts and the 11 × 11
heat map. Pure functions of a few aggregated rows; the templates only draw."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pgap.selectors.analytics import SCORES

WIDTH, HEIGHT = 480, 210
LEFT, RIGHT, TOP, BOTTOM = 40, 24, 10, 26
MAX_X_LABELS = 7


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    label: str
    css: str
    path: str
    points: list[Point]


@dataclass(frozen=True)
class Bar:
    gap: int
    pairs: int
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True)
class Chart:
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: float = WIDTH - RIGHT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    bars: list[Bar] = field(default_factory=list)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    low: float,
    high: float,
    ticks: Sequence[float],
    fmt: str = "{:+.2f}",
) -> Chart:
    """Lines over `labels` (one x step each) for `series` of (label, css class, values);
    a None value breaks its line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x_at(i: int) -> float:
        return round(LEFT + (i * step if len(labels) > 1 else plot_w / 2), 1)

    def y_at(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    drawn = []
    for label, css, values in series:
        points, path, pen_down = [], [], False
        for i, value in enumerate(values):
            if value is None:
                pen_down = False
                continue
            x, y = x_at(i), y_at(value)
            path.append(f"{'L' if pen_down else 'M'}{x} {y}")
            pen_down = True
            points.append(Point(x, y, f"{labels[i]}: {label} {fmt.format(value)}"))
        drawn.append(Series(label, css, " ".join(path), points))
    every = math.ceil(len(labels) / MAX_X_LABELS) or 1
    return Chart(
        series=drawn,
        y_ticks=[(y_at(t), f"{t:+g}" if t else "0") for t in ticks],
        x_labels=[(x_at(i), text) for i, text in enumerate(labels) if i % every == 0],
    )


def gap_chart(labels: Sequence[str], gaps: Sequence[float | None]) -> Chart:
    """Mean signed gap per period, on a scale symmetric around 0 (at least ±1)."""
    bound = max([1.0, *(abs(g) for g in gaps if g is not None)])
    bound = math.ceil(bound * 2) / 2
    return line_chart(
        labels,
        [("mean gap", "gap", gaps)],
        low=-bound,
        high=bound,
        ticks=[-bound, -bound / 2, 0, bound / 2, bound],
    )


def nps_chart(
    labels: Sequence[str], customer: Sequence[float | None], agents: Sequence[float | None]
) -> Chart:
    """Customer NPS and the agents' predicted NPS per period, on −100 … 100."""
    return line_chart(
        labels,
        [("customer NPS", "customer", customer), ("predicted NPS", "agent", agents)],
        low=-100,
        high=100,
        ticks=[-100, -50, 0, 50, 100],
        fmt="{:+.0f}",
    )


@dataclass(frozen=True)
class Cell:
    agent: int
    customer: int
    pairs: int
    style: str
    css: str


def heat_map(matrix: Sequence[Sequence[int]]) -> list[tuple[int, list[Cell]]]:
    """Rows from agent score 10 down to 0, columns customer score 0 … 10; the colour's
    strength is the cell's share of the fullest cell."""
    top = max((n for row in matrix for n in row), default=0) or 1
    rows = []
    for agent in reversed(SCORES):
        cells = []
        for customer in SCORES:
            pairs = matrix[agent][customer]
            strength = pairs / top
            style = ""
            if pairs:
                style = f"background-color: rgba(32, 111, 170, {0.08 + 0.92 * strength:.2f})"
                if strength > 0.55:
                    style += "; color: #fff"
            css = "exact" if agent == customer else "near" if abs(agent - customer) == 1 else ""
            cells.append(Cell(agent, customer, pairs, style, css))
        rows.append((agent, cells))
    return rows


def signed(gap: int) -> str:
    return f"{gap:+d}".replace("-", "−") if gap else "0"


def gap_bars(matrix: Sequence[Sequence[int]]) -> Chart | None:
    """Pairs per gap (agent − customer), from −10 to +10 trimmed to what occurs (at least
    −3 … +3): the matrix's diagonals as bars. None when there are no pairs."""
    counts = {gap: 0 for gap in range(-10, 11)}
    for agent in SCORES:
        for customer in SCORES:
            counts[agent - customer] += matrix[agent][customer]
    seen = [gap for gap, n in counts.items() if n]
    if not seen:
        return None
    gaps = range(min(-3, *seen), max(3, *seen) + 1)
    top = max(counts.values())
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(gaps)
    bars = []
    for i, gap in enumerate(gaps):
        height = round(counts[gap] / top * plot_h, 1)
        css = "exact" if gap == 0 else "near" if abs(gap) == 1 else "over" if gap > 0 else "under"
        x = round(LEFT + i * step + step * 0.1, 1)
        bars.append(
            Bar(gap, counts[gap], x, TOP + plot_h - height, round(step * 0.8, 1), height, css)
        )
    return Chart(
        series=[],
        bars=bars,
        y_ticks=[(TOP + plot_h, "0"), (TOP, f"{top}")],
        x_labels=[(round(b.x + b.width / 2, 1), signed(b.gap)) for b in bars],
    )
