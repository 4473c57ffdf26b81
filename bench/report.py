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


NOISE = ("rest of machine", "stolen")


def cpu_rows(cpu: dict[str, float], digits: int = 2) -> list[list[str]]:
    """Rows of a CPU table: our processes, their total, then the machine's other load."""
    ours = {k: v for k, v in cpu.items() if k not in NOISE}
    rows = [[name, f"{value:.{digits}f}"] for name, value in ours.items()]
    rows.append(
        ["**total, the platform and the load generator**", f"{sum(ours.values()):.{digits}f}"]
    )
    rows += [[f"({name}: not ours)", f"{cpu[name]:.{digits}f}"] for name in NOISE if name in cpu]
    return rows
