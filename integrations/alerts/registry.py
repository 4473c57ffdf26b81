"""The conditions alerts watch. Apps register theirs; integrations imports no app."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Finding:
    """One thing wrong now: for an account, about a subject (a mapping, a connection; blank
    for the account as a whole). The same (condition, account, subject) is one incident."""

    account_id: int
    detail: str
    subject: str = ""


Check = Callable[..., Iterable[Finding]]


@dataclass(frozen=True)
class Condition:
    key: str
    title: str
    check: Check  # check(*, now: datetime) -> Iterable[Finding]

    def findings(self, *, now: datetime) -> list[Finding]:
        return list(self.check(now=now))


_conditions: dict[str, Condition] = {}


def register(key: str, title: str, check: Check) -> Condition:
    """Add (or replace, on a second ready()) the condition named `key`."""
    if len(key) > 60:
        raise ValueError(f"alert condition key {key!r} is longer than 60 characters")
    condition = Condition(key=key, title=title, check=check)
    _conditions[key] = condition
    return condition


def conditions() -> list[Condition]:
    return list(_conditions.values())


def title_of(key: str) -> str:
    condition = _conditions.get(key)
    return condition.title if condition else key
