"""`make bench`: run every benchmark and write docs/benchmarks.md.

python -m bench.run              # all
python -m bench.run ingest       # one section
"""

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from bench import ingest, relay, stack  # noqa: E402

SECTIONS = {"ingest": ingest.run, "relay": relay.run}


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
    chosen = names or list(SECTIONS)
    began = time.time()
    parts = [SECTIONS[name]() for name in chosen]
    out = stack.ROOT / "docs" / "benchmarks.md"
    header = [
        "# Benchmarks",
        "",
        f"Made by `make bench` (`python -m bench.run{''.join(' ' + n for n in names)}`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, in {time.time() - began:.0f} s.",
        "The machine is shared and noisy: compare the ratios measured within one run, not "
        "absolute numbers across runs.",
        "",
    ]
    out.write_text("\n".join(header + parts))
    print(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
