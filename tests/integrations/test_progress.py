"""Long commands show progress: a redrawn line on a terminal, a log line per interval elsewhere."""

import io
import logging

import pytest

from integrations.progress import Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_line_says_done_total_rate_and_time_left():
    clock = Clock()
    progress = Progress("rows", 1000, clock=clock)
    clock.now = 10.0
    progress.advance(250)
    assert progress.line() == "rows: 250/1,000 (25%), 25/s, 30 s left"
    clock.now = 20.0
    assert progress.line() == "rows: 250/1,000 (25%), 12/s, 1 min 00 s left"


def test_without_a_total_the_line_says_done_and_rate():
    clock = Clock()
    progress = Progress("accounts", clock=clock)
    clock.now = 2.0
    progress.advance(10)
    assert progress.line() == "accounts: 10 done, 5/s, 2 s"


def test_off_a_terminal_it_logs_once_per_interval_and_at_the_end(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO, logger="relay.progress")
    with Progress("rows", 100, every=5.0, clock=clock) as progress:
        for second in range(1, 13):
            clock.now = float(second)
            progress.advance(5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "rows: 25/100 (25%), 5/s, 15 s left",
        "rows: 50/100 (50%), 5/s, 10 s left",
        "rows: 60/100 (60%), 5/s, 8 s left (finished)",
    ]


def test_on_a_terminal_it_redraws_one_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    clock, screen = Clock(), Terminal()
    with Progress("rows", 10, stream=screen, clock=clock) as progress:
        for second in range(1, 3):
            clock.now = float(second)
            progress.advance(5)
    drawn = screen.getvalue()
    assert drawn.count("\n") == 1 and drawn.endswith("(finished)\x1b[K\n")
    assert "\rrows: 5/10 (50%)" in drawn


def test_an_interrupted_run_says_it_stopped(caplog):
    caplog.set_level(logging.INFO, logger="relay.progress")
    with pytest.raises(RuntimeError), Progress("rows", 10):
        raise RuntimeError("boom")
    assert caplog.records[-1].getMessage().endswith("(stopped)")
