"""docs/benchmarks.md: a run of named sections replaces only those, a full run rewrites all."""

from bench.report import render, split_report

MACHINE = "2 cores"
ORDER = ["ingest", "relay", "card"]


def section(name: str, when: str, text: str, rows: list) -> tuple:
    fields = {"name": name, "measured": when, "command": "make bench", "seconds": "5"}
    return fields, f"## {name}\n\n{text}\n", rows


def full_report() -> str:
    return render(
        MACHINE,
        ORDER,
        {
            "ingest": section(
                "ingest", "2026-11-22 01:00", "old ingest", [("rate", "1/s", "", None)]
            ),
            "relay": section(
                "relay", "2026-11-22 01:00", "old relay", [("p50", "9 ms", "≤ 25", True)]
            ),
        },
    )


def test_named_section_replaces_only_itself_and_its_summary_rows():
    new = render(
        MACHINE,
        ORDER,
        {
            "relay": section(
                "relay", "2026-11-22 02:00", "new relay", [("p50", "30 ms", "≤ 25", False)]
            )
        },
        full_report(),
    )
    summary, sections = split_report(new)
    assert summary == [
        ["ingest", "rate", "1/s", "", ""],
        ["relay", "p50", "30 ms", "≤ 25", "**no**"],
    ]
    assert sections["ingest"][1] == "## ingest\n\nold ingest\n"
    assert sections["ingest"][0]["measured"] == "2026-11-22 01:00"
    assert sections["relay"][1] == "## relay\n\nnew relay\n"
    assert sections["relay"][0]["measured"] == "2026-11-22 02:00"
    assert "old relay" not in new


def test_new_section_takes_its_place_in_the_order_and_a_rerun_is_stable():
    once = render(
        MACHINE, ORDER, {"card": section("card", "2026-11-22 03:00", "card", [])}, full_report()
    )
    assert list(split_report(once)[1]) == ["ingest", "relay", "card"]
    twice = render(MACHINE, ORDER, {"card": section("card", "2026-11-22 03:00", "card", [])}, once)
    assert twice == once


def test_sections_unknown_to_this_run_are_kept_at_the_end():
    new = render(MACHINE, ["relay"], {}, full_report())
    assert list(split_report(new)[1]) == ["relay", "ingest"]


def test_full_run_without_previous_holds_only_what_it_measured():
    new = render(MACHINE, ORDER, {"card": section("card", "2026-11-22 03:00", "card", [])})
    summary, sections = split_report(new)
    assert list(sections) == ["card"] and summary == []


def test_a_full_run_keeps_only_the_sections_it_does_not_run_on_its_own():
    previous = render(
        MACHINE,
        ORDER + ["admin"],
        {
            "ingest": section("ingest", "2026-11-22 01:00", "old ingest", []),
            "admin": section("admin", "2026-11-22 01:00", "admin", [("p", "1 s", "", True)]),
        },
    )
    new = render(
        MACHINE,
        ORDER + ["admin"],
        {"relay": section("relay", "2026-11-22 02:00", "relay", [])},
        previous,
        keep={"admin"},
    )
    summary, sections = split_report(new)
    assert list(sections) == ["relay", "admin"]
    assert summary == [["admin", "p", "1 s", "", "yes"]]
