"""Small helpers for the markdown report."""

import statistics

from bench.load import percentile


def table(headers: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def spread(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies (ms or s), for tables and the raw JSON."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"
