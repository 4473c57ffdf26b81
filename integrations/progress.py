"""Progress of long work (management commands that can run for minutes).

Services take an optional `progress: Progress` and call `advance(n)` as they go; commands make
one with `Progress.for_command(self, label, total)`. On a terminal it redraws one line (done /
total, rate, time left); elsewhere (cron, a container's log) it writes a log line at most every
`every` seconds and one at the end, so a log shows the same story without a line per row.

Written here rather than taken from tqdm or rich: both draw for terminals and write carriage
returns into logs, and a line-per-interval logger is the half we need most in production.
"""

import logging
import sys
import time
from typing import TextIO

logger = logging.getLogger("relay.progress")


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        every: float = 5.0,
        clock=time.monotonic,
    ):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream
        self.every, self.clock = every, clock
        self.began = self.last_shown = clock()

    @classmethod
    def for_command(cls, command, label: str, total: int | None = None) -> "Progress":
        """Draws on the command's stderr when that is a terminal; logs otherwise."""
        return cls(label, total, stream=sys.stderr if command.stderr.isatty() else None)

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = self.clock()
        if self.stream is not None:
            if now - self.last_shown >= 0.1:
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
                self.last_shown = now
        elif now - self.last_shown >= self.every:
            logger.info("%s", self.line())
            self.last_shown = now

    def finish(self, *, stopped: bool = False) -> None:
        end = "stopped" if stopped else "finished"
        if self.stream is not None:
            self.stream.write(f"\r{self.line()} ({end})\x1b[K\n")
            self.stream.flush()
        else:
            logger.info("%s (%s)", self.line(), end)

    def line(self) -> str:
        elapsed = max(self.clock() - self.began, 1e-9)
        rate = self.done / elapsed
        if self.total is None:
            return f"{self.label}: {self.done:,} done, {rate:,.0f}/s, {elapsed:,.0f} s"
        share = self.done / self.total if self.total else 1.0
        left = 0 if self.done >= self.total else (self.total - self.done) / rate if rate else None
        eta = "?" if left is None else _duration(max(left, 0))
        return (
            f"{self.label}: {self.done:,}/{self.total:,} ({share:.0%}), {rate:,.0f}/s, {eta} left"
        )

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.finish(stopped=exc_type is not None)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
