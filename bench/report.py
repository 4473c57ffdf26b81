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


# A report is a header, a summary table and sections, each section behind a marker line that
# records when, by which command and in how long it was measured; a run of some sections
# replaces only those and keeps the others as they were.
MARK, MARK_END = "<!-- bench section: ", " -->"
MARK_FIELDS = ("name", "measured", "command", "seconds")
MET = {True: "yes", False: "**no**", None: ""}


def marker(fields: dict[str, str]) -> str:
    return MARK + " | ".join(fields[key] for key in MARK_FIELDS) + MARK_END


def parse_marker(line: str) -> dict[str, str] | None:
    if not (line.startswith(MARK) and line.endswith(MARK_END)):
        return None
    return dict(zip(MARK_FIELDS, line[len(MARK) : -len(MARK_END)].split(" | "), strict=True))


def split_report(text: str) -> tuple[list[list[str]], dict[str, tuple[dict, str]]]:
    """Summary rows and {section: (marker fields, markdown)} of a report written by `render`."""
    summary, sections, fields, body, in_summary = [], {}, None, [], False

    def close_section():
        if fields:
            sections[fields["name"]] = (fields, "\n".join(body).strip("\n") + "\n")

    for line in text.splitlines():
        found = parse_marker(line)
        if found:
            close_section()
            fields, body, in_summary = found, [], False
        elif fields:
            body.append(line)
        elif line.startswith("## "):
            in_summary = line == "## Summary"
        elif in_summary and line.startswith("| ") and not line.startswith("| section |"):
            summary.append([cell.strip() for cell in line.strip()[2:-2].split(" | ")])
    close_section()
    return summary, sections


def render(
    machine: str, order: list[str], measured: dict, previous: str = "", keep: set | None = None
) -> str:
    """The report. `measured` maps each section just run to (marker fields, markdown, summary
    rows of (figure, value, target, met)); it replaces that section's text and summary rows in
    `previous`, every other section of `previous` stays with its own date and command (only
    those named in `keep`, when given)."""
    old_summary, sections = split_report(previous)
    if keep is not None:
        sections = {name: part for name, part in sections.items() if name in keep}
    sections.update({name: (fields, md) for name, (fields, md, _) in measured.items()})
    names = [n for n in order if n in sections] + [n for n in sections if n not in order]
    summary = []
    for name in names:
        if name in measured:
            rows = measured[name][2]
            summary += [[name, fig, value, target, MET[met]] for fig, value, target, met in rows]
        else:
            summary += [row for row in old_summary if row[0] == name]
    header = [
        "# Benchmarks",
        "",
        "Made by `make bench` (`python -m bench.run`); `make bench BENCH_ARGS='<section> ...'` "
        "measures only the sections named and replaces just those below. Every section starts "
        "on a fresh database; raw figures and process logs are in `bench/out/` (not committed). "
        f"Machine: {machine}.",
        "",
        "The machine has two shared, noisy cores on which the load generator, the platform's "
        "processes, PostgreSQL and Redis all run: compare the ratios measured within one run, "
        "not absolute numbers across runs.",
        "",
        *table(
            ["section", "measured (UTC)", "by", "took"],
            [
                [n, f["measured"], f"`{f['command']}`", f"{f['seconds']} s"]
                for n in names
                for f in [sections[n][0]]
            ],
        ),
        "",
        "## Summary",
        "",
        *table(["section", "figure", "this run", "target", "met"], summary),
        "",
    ]
    parts = [f"{marker(sections[n][0])}\n\n{sections[n][1]}" for n in names]
    return "\n".join(header) + "\n" + "\n".join(parts)
