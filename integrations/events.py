"""The event bus: which handlers subscribe to which Dixa event type.

Apps subscribe in their AppConfig.ready(), e.g. the survey relay to ConversationClosed.
Several handlers may subscribe to one type; each runs on its own and has its own recorded
outcome per event (`HandlerRun`), so one failing neither stops nor hides the others.

A handler takes a `DixaEvent` (the stored event, its parsed envelope and the conversation,
built once and shared) and returns a `HandlerResult`. It must be idempotent: an event can
be processed again (a worker lost, an admin's reprocess).
"""

from collections.abc import Callable
from dataclasses import dataclass

from integrations.dixa.conversation import Conversation
from integrations.dixa.envelope import Envelope
from integrations.models import HandlerRun, InboundEvent

Outcome = HandlerRun.Outcome


@dataclass(frozen=True)
class HandlerResult:
    outcome: str
    reason: str = ""

    @classmethod
    def handled(cls, reason: str = "") -> "HandlerResult":
        return cls(Outcome.HANDLED, reason)

    @classmethod
    def skipped(cls, reason: str) -> "HandlerResult":
        return cls(Outcome.SKIPPED, reason)


@dataclass(frozen=True)
class DixaEvent:
    record: InboundEvent
    envelope: Envelope
    conversation: Conversation

    @property
    def account_id(self) -> int:
        return self.record.account_id


Handler = Callable[[DixaEvent], HandlerResult]


@dataclass(frozen=True)
class Subscription:
    name: str  # stable: it keys the recorded outcomes
    event_type: str
    handler: Handler


_subscriptions: dict[str, list[Subscription]] = {}


def subscribe(event_type: str, name: str, handler: Handler) -> None:
    """Add `handler` under `name` for `event_type`. Subscribing the same name again replaces
    that subscription only (an app's ready() may run twice in tests)."""
    subscriptions = [s for s in _subscriptions.get(event_type, []) if s.name != name]
    subscriptions.append(Subscription(name, event_type, handler))
    _subscriptions[event_type] = subscriptions


def subscriptions_for(event_type: str) -> list[Subscription]:
    return list(_subscriptions.get(event_type, []))


def handler_names() -> list[str]:
    return sorted({s.name for subs in _subscriptions.values() for s in subs})
