"""What each app contributes to an erasure: where it finds a person's conversations, and how
it erases their data from its rows. integrations registers its own steps; ivr and pgap register
theirs from their AppConfig.ready() (integrations imports no app)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

Find = Callable[["Subject", QuerySet], set[int]]  # the person's csids in these accounts
Erase = Callable[["Subject", QuerySet, set[int], bool], int]  # rows changed (dry run: would be)


@dataclass(frozen=True)
class Subject:
    """The person: `kind` is one of Erasure.Kind; `value` normalised as stored."""

    kind: str
    value: str


@dataclass(frozen=True)
class Step:
    name: str
    find: Find | None
    erase: Erase


_steps: dict[str, Step] = {}


def register(name: str, erase: Erase, *, find: Find | None = None) -> None:
    _steps[name] = Step(name, find, erase)


def steps() -> list[Step]:
    return list(_steps.values())
