"""`make bench`: run the benchmarks and write docs/benchmarks.md (raw figures: bench/out/).

python -m bench.run                   # every section
python -m bench.run ingest relay      # only these sections: they replace their own text and
                                      # summary rows in docs/benchmarks.md, the others stay

Sections: ingest, relay, slow, throughput, idle, rows, capture, card (the agent's custom card at
20 cards/s with a million surveys stored); and, only when named (it seeds a million rows),
pgap: the P-GAP page and CSV export over 1,000,000 pairs; admin: every admin list, search, the
customer lookup and the admin's first page over 1,000,000 events and 600,000 surveys;
compare: the relay section against BENCH_BASELINE (a commit; default HEAD), by turns.
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

from bench import (  # noqa: E402
    admin,
    capture,
    card,
    compare,
    delivery,
    idle,
    ingest,
    pgap,
    relay,
    rows,
    slow,
    stack,
)
from bench.report import render  # noqa: E402

# pgap and admin each seed a million rows (`make bench BENCH_ARGS=pgap`); compare runs the
# relay section four times, against BENCH_BASELINE.
NAMED_ONLY = {"pgap", "admin", "compare"}
SECTIONS = {
    "ingest": ingest.run,
    "relay": relay.run,
    "slow": slow.run,
    "throughput": delivery.run,
    "idle": idle.run,
    "pgap": pgap.run,
    "rows": rows.run,
    "capture": capture.run,
    "card": card.run,
    "admin": admin.run,
    "compare": compare.run,
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
    command = "make bench" + (f" BENCH_ARGS='{' '.join(names)}'" if names else "")
    stack.OUT.mkdir(exist_ok=True)
    out = stack.ROOT / "docs" / "benchmarks.md"
    # Named sections replace only themselves in the report; a full run rewrites it (keeping
    # the old sections while it runs, so an interrupted run leaves a whole report), all but
    # the sections measured only on request, which it does not run.
    previous = out.read_text() if out.exists() else ""
    measured = {}
    for name in chosen:
        started = time.time()
        markdown, raw = SECTIONS[name]()
        fields = {
            "name": name,
            "measured": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
            "command": command,
            "seconds": f"{time.time() - started:.0f}",
        }
        measured[name] = (fields, markdown, raw.get("summary", []))
        (stack.OUT / f"{name}.json").write_text(json.dumps(raw, indent=1, default=str))
        (stack.OUT / f"{name}.md").write_text(markdown)
        print(f"{name}: {fields['seconds']} s", file=sys.stderr, flush=True)
        out.write_text(render(machine(), list(SECTIONS), measured, previous))
    if not names:
        out.write_text(render(machine(), list(SECTIONS), measured, previous, keep=NAMED_ONLY))
    print(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
