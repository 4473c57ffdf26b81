"""The handler registry: which service handles which Dixa event type.

Apps register in their AppConfig.ready(), e.g. the survey relay for ConversationClosed.
A handler takes the InboundEvent and returns a HandlerResult; it must be idempotent,
because an event can be processed again (sweeper, a worker killed, an admin's reprocess).
"""

from collections.abc import Callable
from dataclasses import dataclass

from integrations.models import InboundEvent

Outcome = InboundEvent.Outcome


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


Handler = Callable[[InboundEvent], HandlerResult]
_handlers: dict[str, Handler] = {}


def register(event_type: str, handler: Handler) -> None:
    _handlers[event_type] = handler


def handler_for(event_type: str) -> Handler | None:
    return _handlers.get(event_type)


def registered_types() -> list[str]:
    return sorted(_handlers)
