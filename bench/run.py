"""`make bench`: run the benchmarks and write docs/benchmarks.md (raw figures: bench/out/).

python -m bench.run                   # every section
python -m bench.run ingest relay      # some sections (the report then holds only those)

Sections: ingest, relay, slow, throughput, idle, rows, capture; and, only when named (it seeds a
million rows), pgap: the P-GAP page and CSV export over 1,000,000 pairs.
"""

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from bench import capture, delivery, idle, ingest, pgap, relay, rows, slow, stack  # noqa: E402
from bench.report import table  # noqa: E402

NAMED_ONLY = {"pgap"}  # too long for every run: `make bench BENCH_ARGS=pgap`
SECTIONS = {
    "ingest": ingest.run,
    "relay": relay.run,
    "slow": slow.run,
    "throughput": delivery.run,
    "idle": idle.run,
    "pgap": pgap.run,
    "rows": rows.run,
    "capture": capture.run,
}


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {pg}"


def main(names: list[str]) -> None:
    unknown = set(names) - set(SECTIONS)
    if unknown:
        sys.exit(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    chosen = names or [name for name in SECTIONS if name not in NAMED_ONLY]
    stack.OUT.mkdir(exist_ok=True)
    began = time.time()
    parts, timings, summary = [], {}, []
    for name in chosen:
        started = time.time()
        markdown, raw = SECTIONS[name]()
        timings[name] = time.time() - started
        summary += [[name, *row] for row in raw.get("summary", [])]
        (stack.OUT / f"{name}.json").write_text(json.dumps(raw, indent=1, default=str))
        (stack.OUT / f"{name}.md").write_text(markdown)
        parts.append(markdown)
        print(f"{name}: {timings[name]:.0f} s", file=sys.stderr, flush=True)
    command = "make bench" + (f" BENCH_ARGS='{' '.join(names)}'" if names else "")
    header = [
        "# Benchmarks",
        "",
        f"Made by `{command}` (`python -m bench.run{''.join(' ' + n for n in names)}`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, in {time.time() - began:.0f} s "
        f"({', '.join(f'{n} {t:.0f} s' for n, t in timings.items())}). Every section starts "
        "on a fresh database and can be run alone (`make bench BENCH_ARGS=<section>`); raw "
        "figures and process logs are in `bench/out/` (not committed).",
        "",
        "The machine has two shared, noisy cores on which the load generator, the platform's "
        "processes, PostgreSQL and Redis all run: compare the ratios measured within one run, "
        "not absolute numbers across runs.",
        "",
        "## Summary",
        "",
        *table(
            ["section", "figure", "this run", "target", "met"],
            [
                [section, figure, value, target, {True: "yes", False: "**no**", None: ""}[met]]
                for section, figure, value, target, met in summary
            ],
        ),
        "",
    ]
    out = stack.ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(header + parts))
    print(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
