"""What our webhook subscription in Dixa should look like, and how its state is recorded.

integrations imports neither ivr nor pgap: they register providers at ready().
`register_queue_source(fn)`: fn(account) -> the Dixa queue ids we survey (ivr's enabled
mappings). `register_event_types(fn)`: fn(account) -> the event types an app needs
(ivr: closes and abandons; pgap: attribute updates while P-GAP is on).
"""

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from integrations.clients.http import ApiUnavailable
from integrations.dixa.envelope import storable
from integrations.models import Account, ApiKey, DixaConnection, SigningSecret, hex_validator
from integrations.public_url import public_url

State = DixaConnection.State
QueueSource = Callable[[Account], Iterable[str]]
EventSource = Callable[[Account], Iterable[str]]

_queue_sources: dict[str, QueueSource] = {}
_event_sources: dict[str, EventSource] = {}


def register_queue_source(name: str, source: QueueSource) -> None:
    _queue_sources[name] = source


def register_event_types(name: str, source: EventSource) -> None:
    _event_sources[name] = source


@dataclass(frozen=True)
class Desired:
    name: str
    url: str
    events: list[str]
    queue_ids: list[str]

    @property
    def enabled(self) -> bool:
        # No mapped queue: a QueueId filter needs at least one value, and without one Dixa
        # would send every queue's events. The subscription waits, disabled.
        return bool(self.queue_ids)

    def filters(self) -> dict:
        if not self.queue_ids:
            return {}
        condition = {"field": "QueueId", "values": self.queue_ids, "_type": "IsOneOf"}
        return {
            "Conversation": {
                "strategy": "All",
                "conditions": [condition],
                "_type": "CombinedFilters",
            }
        }

    def body(self, *, key: str | None = None, with_enabled: bool = True) -> dict:
        """The create/PATCH body; `key` sets Token authorization with our relay key."""
        body: dict = {
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "customHeaders": {},
            "filters": self.filters(),
        }
        if with_enabled:
            body["enabled"] = self.enabled
        if key is not None:
            body["authorization"] = {"_type": "TokenAuth", "value": key}
        return body


def relay_url(request=None) -> str:
    """Our webhook endpoint as Dixa is to call it (on PUBLIC_URL, or the request's address)."""
    return public_url(reverse("dixa-relay"), request)


def desired_subscription(account: Account) -> Desired:
    queue_ids = sorted({str(q) for source in _queue_sources.values() for q in source(account)})
    events = sorted({str(e) for source in _event_sources.values() for e in source(account)})
    return Desired(
        name=f"{settings.DIXA_WEBHOOK_NAME} ({account.slug})",
        url=relay_url(),
        events=events,
        queue_ids=queue_ids,
    )


def connection_for(account: Account) -> DixaConnection:
    connection, _ = DixaConnection.objects.get_or_create(account=account)
    return connection


# --- Reading Dixa's WebhookSubscription ----------------------------------------------------


def mapping(value) -> dict:
    """`value` if Dixa sent an object there; {} for anything else."""
    return value if isinstance(value, dict) else {}


def strings(value) -> list[str]:
    return sorted(str(v) for v in value) if isinstance(value, list) else []


def queue_filter(subscription: dict) -> list[str] | None:
    """The queue ids of a `QueueId IsOneOf` condition; None when there is none."""
    group = mapping(mapping(subscription.get("filters")).get("Conversation"))
    conditions = group.get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        condition = mapping(condition)
        if condition.get("field") == "QueueId" and condition.get("_type") == "IsOneOf":
            return strings(condition.get("values"))
    return None


def subscription_id_of(subscription: dict) -> str:
    """The id in Dixa's answer; an answer without one is treated as no answer (retried)."""
    value = subscription.get("id")
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ApiUnavailable("Dixa's answer names no webhook subscription id")
    return value


def header(subscription: dict, name: str) -> str | None:
    for key, value in mapping(subscription.get("headers")).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def authorization_matches(subscription: dict, api_key: ApiKey | None) -> bool | None:
    """Whether Dixa sends our active relay key (True/False); None when Dixa does not show
    the header. Hashed as api_keys stores keys (SHA-256), compared in constant time."""
    value = header(subscription, "Authorization")
    if value is None:
        return None
    if api_key is None or not api_key.is_active or not value.startswith("Bearer "):
        return False
    digest = hashlib.sha256(value.removeprefix("Bearer ").strip().encode()).hexdigest()
    return hmac.compare_digest(digest, api_key.key_hash)


def differences(subscription: dict, connection: DixaConnection) -> list[str]:
    """How Dixa's subscription differs from what we last applied, in words."""
    found = []
    if subscription.get("url") != connection.subscription_url:
        found.append(f"URL is {subscription.get('url')!r}")
    events = strings(subscription.get("subscribedEvents"))
    if events != sorted(connection.events):
        found.append(f"events are {', '.join(events) or 'none'}")
    queues = queue_filter(subscription) or []
    if queues != sorted(connection.queue_ids):
        found.append(f"queue filter is {', '.join(queues) or 'absent'}")
    if authorization_matches(subscription, connection.api_key) is False:
        found.append("authorization is not our relay key")
    return found


# --- Recording --------------------------------------------------------------------------------


def record(connection: DixaConnection, state: str, detail: str, **fields) -> None:
    """Save a new state and its sentence (plus any other fields) on the connection. The
    sentence may quote Dixa's answer: what PostgreSQL text cannot hold is dropped."""
    connection.state = state
    connection.detail = storable(detail)
    for name, value in fields.items():
        setattr(connection, name, storable(value) if isinstance(value, str) else value)
    connection.save(update_fields=["state", "detail", *fields])


def refused_sentence(status: int) -> str:
    if status in (401, 403):
        return (
            f"Dixa refused the API token ({status}). Enter an admin API token of the Dixa "
            "organisation (Settings → Integrations → API tokens) and connect again."
        )
    return f"Dixa refused the request ({status})."


@transaction.atomic
def secret_adopt(account: Account, secret_key: str, subscription_id: str) -> SigningSecret | None:
    """Keep the subscription's secretKey as an active signing secret of the account and
    require signatures from now on. Returns the stored secret (None if Dixa sent none)."""
    try:
        hex_validator(secret_key)
    except ValidationError:
        return None  # none, or not one Dixa could sign with: the check shows it unverified
    existing = next(
        (s for s in account.signing_secrets.filter(is_active=True) if s.secret == secret_key),
        None,
    )
    secret = existing or SigningSecret.objects.create(
        account=account, label=f"Dixa webhook {subscription_id[:8]}", secret=secret_key
    )
    if not account.require_signature:
        account.require_signature = True
        account.save(update_fields=["require_signature"])
    return secret
