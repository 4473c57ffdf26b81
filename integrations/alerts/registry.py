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
# Where an admin acts on an incident: (link text, admin URL) for its account and subject.
Action = Callable[[int, str], tuple[str, str] | None]  # None: no page to offer


@dataclass(frozen=True)
class Condition:
    key: str
    title: str
    check: Check  # check(*, now: datetime) -> Iterable[Finding]
    action: Action | None = None

    def findings(self, *, now: datetime) -> list[Finding]:
        return list(self.check(now=now))


_conditions: dict[str, Condition] = {}


def register(key: str, title: str, check: Check, *, action: Action | None = None) -> Condition:
    """Add (or replace, on a second ready()) the condition named `key`; `action` gives the
    admin page where its incidents are dealt with (the dashboard's banner links to it)."""
    if len(key) > 60:
        raise ValueError(f"alert condition key {key!r} is longer than 60 characters")
    condition = Condition(key=key, title=title, check=check, action=action)
    _conditions[key] = condition
    return condition


def conditions() -> list[Condition]:
    return list(_conditions.values())


def title_of(key: str) -> str:
    condition = _conditions.get(key)
    return condition.title if condition else key


def action_of(key: str, account_id: int, subject: str) -> tuple[str, str] | None:
    """(link text, URL) of the page where this incident is dealt with, if its condition
    names one."""
    condition = _conditions.get(key)
    if condition is None or condition.action is None:
        return None
    return condition.action(account_id, subject)
