"""The relay comparison's figures: each round summed per tree, ratios of the medians."""

from bench.compare import _summary, render


def relay_raw(p50: float, p99: float, web_ms: float) -> dict:
    per_close = {"web": web_ms, "postgres": 1.0, "load generator": 9.0, "rest of machine": 2.0}
    return {"runs": {"50": {"latency_ms": {"p50": p50, "p99": p99}, "cpu_ms_per_close": per_close}}}


def test_the_platforms_cpu_leaves_the_load_generator_and_other_work_out():
    figures = _summary(relay_raw(20, 90, web_ms=3.0))["50"]
    assert figures == {"p50": 20, "p99": 90, "cpu_ms": 4.0, "others_ms": 2.0}


def test_ratios_are_this_tree_over_the_baseline_medians():
    rounds = [
        {"tree": "baseline abc123", **_summary(relay_raw(100, 300, web_ms=9.0))},
        {"tree": "this tree", **_summary(relay_raw(40, 150, web_ms=4.0))},
        {"tree": "baseline abc123", **_summary(relay_raw(120, 330, web_ms=9.0))},
        {"tree": "this tree", **_summary(relay_raw(60, 180, web_ms=4.0))},
    ]
    report = render({"baseline": "abc123", "rounds": rounds})
    # medians: p50 50 / 110, p99 165 / 315, CPU 5 / 10
    assert "| 50/s | p50 | 0.45 |" in report
    assert "| 50/s | p99 | 0.52 |" in report
    assert "| 50/s | CPU per close | 0.50 |" in report
    assert "| 2 | this tree | 60.0 / 180 ms, 5.0 ms CPU (2.0 others) |" in report
