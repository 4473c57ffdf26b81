"""Fields that other apps add to a campaign member at send time, without ivr knowing them.

An app registers a provider (in its AppConfig.ready()). Before each try, `trigger_deliver`
asks every provider about the SurveyTrigger; a provider answers with

- `Extra(custom={...}, note="")`: fields merged into the member's `custom` JSON string
  (saved into the trigger's payload, the record of what is sent), and an optional note for
  the trigger's reason (e.g. why a field is absent);
- `Wait(until, reason)`: not yet. The survey goes back to pending until then (not counted
  as a try, its reason "waiting for …"); once `until` has passed it is sent without, and
  its reason says so. `survey_triggers_wake` sends it at once when the wait is over early;
- None: nothing to add.

A provider that raises is logged and the survey goes without its fields: an extra never
stops a survey.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

logger = logging.getLogger(__name__)
WAITING = "waiting for "  # the reason of a trigger held back by a provider


@dataclass(frozen=True)
class Extra:
    custom: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str  # what the survey waits for, e.g. "the agent's P-GAP score"


Provider = Callable[[object], Extra | Wait | None]
_providers: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Add (or replace) the provider called `name`."""
    _providers[name] = provider


def unregister(name: str) -> None:
    _providers.pop(name, None)


@dataclass(frozen=True)
class Collected:
    custom: dict
    notes: list[str]
    waits: list[Wait]  # those not over yet

    @property
    def wait_until(self) -> datetime | None:
        return min((w.until for w in self.waits), default=None)

    @property
    def waiting_reason(self) -> str:
        what = " and ".join(w.reason for w in self.waits)
        return f"{WAITING}{what} (until {timezone.localtime(self.wait_until):%H:%M:%S %Z})"


def collect(trigger, *, now: datetime) -> Collected:
    """Every provider's answer about `trigger`."""
    custom: dict = {}
    notes: list[str] = []
    waits: list[Wait] = []
    for name, provider in list(_providers.items()):
        try:
            answer = provider(trigger)
        except Exception as exc:
            logger.exception("member extras %s failed for survey %s", name, trigger.pk)
            notes.append(f"sent without {name}'s fields ({type(exc).__name__})")
            continue
        if isinstance(answer, Wait):
            if answer.until > now:
                waits.append(answer)
            else:
                stamp = timezone.localtime(answer.until)
                notes.append(f"sent without {answer.reason}: not there by {stamp:%H:%M:%S %Z}")
        elif isinstance(answer, Extra):
            custom.update(answer.custom)
            if answer.note:
                notes.append(answer.note)
    return Collected(custom, notes, waits)


def merged_payload(payload: dict, custom: dict) -> dict:
    """The member with `custom` merged into its `custom` JSON string (nps.today types it as a
    string holding JSON)."""
    current = payload.get("custom") or "{}"
    try:
        current = json.loads(current) if isinstance(current, str) else current
    except ValueError:
        current = None
    if not isinstance(current, dict):  # not ours to rewrite
        logger.warning("member custom is not a JSON object; extras not merged")
        return payload
    return {**payload, "custom": json.dumps({**current, **custom})}
