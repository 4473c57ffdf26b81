"""The relay section against an earlier commit, in one run: `make bench BENCH_ARGS=compare
BENCH_BASELINE=<commit>` (default HEAD, i.e. what the working tree changes).

This machine's speed drifts by tens of percent within an hour (other tenants share its
cores), so a relay figure from another run says little about a change. Here the baseline (a
git worktree of BENCH_BASELINE, run with this virtualenv) and this tree take turns, each
running the whole relay section (its own fresh database and processes), and the report puts
them side by side with their ratios."""

import json
import os
import shutil
import statistics
import subprocess
import sys

from bench import relay, stack
from bench.report import ms, table

# Each round: the baseline, then this tree (about 100 s the pair).
ROUNDS = int(os.environ.get("BENCH_COMPARE_ROUNDS", "2"))
WORKTREE = stack.OUT / "baseline"


def run() -> tuple[str, dict]:
    baseline = os.environ.get("BENCH_BASELINE", "HEAD")
    commit = _git("rev-parse", "--short", baseline).strip()
    _worktree_add(commit)
    try:
        raw = {"baseline": commit, "rounds": []}
        for _ in range(ROUNDS):
            raw["rounds"].append({"tree": f"baseline {commit}", **_summary(_baseline_run())})
            raw["rounds"].append({"tree": "this tree", **_summary(relay.run()[1])})
    finally:
        _worktree_remove()
    return render(raw), raw


def _baseline_run() -> dict:
    subprocess.run(  # noqa: S603 - our own module, in our own worktree
        [sys.executable, "-m", "bench.run", "relay"],
        cwd=WORKTREE,
        env=stack.env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads((WORKTREE / "bench" / "out" / "relay.json").read_text())


def _summary(raw: dict) -> dict:
    """Per rate: p50, p99 and the platform's CPU per close (its processes and PostgreSQL)."""
    out = {}
    for rate, run in raw["runs"].items():
        per_close = run["cpu_ms_per_close"]
        noise = ("load generator", "fake", "rest of machine", "stolen")
        out[str(rate)] = {
            "p50": run["latency_ms"]["p50"],
            "p99": run["latency_ms"]["p99"],
            "cpu_ms": sum(v for k, v in per_close.items() if k not in noise),
            "others_ms": per_close.get("rest of machine", 0) + per_close.get("stolen", 0),
        }
    return out


def render(raw: dict) -> str:
    rates = [r for r in raw["rounds"][0] if r != "tree"]
    rows = [
        [
            f"{i // 2 + 1}",
            r["tree"],
            *(
                f"{ms(r[rate]['p50'])} / {ms(r[rate]['p99'])} ms, "
                f"{r[rate]['cpu_ms']:.1f} ms CPU ({r[rate]['others_ms']:.1f} others)"
                for rate in rates
            ),
        ]
        for i, r in enumerate(raw["rounds"])
    ]
    ratios = []
    for rate in rates:
        for figure in ("p50", "p99", "cpu_ms"):
            ours = statistics.median(
                r[rate][figure] for r in raw["rounds"] if r["tree"] == "this tree"
            )
            theirs = statistics.median(
                r[rate][figure] for r in raw["rounds"] if r["tree"] != "this tree"
            )
            ratios.append(
                [f"{rate}/s", figure.replace("cpu_ms", "CPU per close"), f"{ours / theirs:.2f}"]
            )
    return "\n".join(
        [
            f"## Relay: this tree against {raw['baseline']}, in one run",
            "",
            f"Command: `make bench BENCH_ARGS=compare BENCH_BASELINE={raw['baseline']}`. "
            "Raw: `bench/out/compare.json`.",
            "",
            "The relay section (section 2) run by turns on the baseline (a git worktree of it, "
            "this virtualenv) and on this tree, so that both meet the same machine. Each cell: "
            "close → member p50 / p99, then the platform's CPU per close (its processes and "
            "PostgreSQL) and, in brackets, what other work on the machine took per close.",
            "",
            *table(["round", "tree", *(f"at {rate}/s" for rate in rates)], rows),
            "",
            "This tree / baseline (medians of the rounds; below 1 is better):",
            "",
            *table(["rate", "figure", "ratio"], ratios),
            "",
        ]
    )


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", *args],
        cwd=stack.ROOT,
        check=True,
        capture_output=True,
        text=True,  # noqa: S607
    ).stdout


def _worktree_add(commit: str) -> None:
    _worktree_remove()
    _git("worktree", "add", "--detach", str(WORKTREE), commit)


def _worktree_remove() -> None:
    if WORKTREE.exists():
        _git("worktree", "remove", "--force", str(WORKTREE))
    shutil.rmtree(WORKTREE, ignore_errors=True)
    _git("worktree", "prune")
