"""Receiving one Dixa delivery: verify, parse, store exactly once, hand off after commit."""

import logging
import time
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction

from integrations.dixa import envelope as envelope_parser
from integrations.dixa import signature
from integrations.models import Account, ApiKey, InboundEvent, RejectedDelivery
from integrations.services.queueing import enqueue_in_background

logger = logging.getLogger(__name__)

# The request headers worth keeping with an event. Authorization is never stored.
KEPT_HEADERS = ("X-Dixa-Subscription-Id", "X-Dixa-Signature", "Content-Type", "User-Agent")


@dataclass(frozen=True)
class Receipt:
    status_code: int
    body: dict = field(default_factory=dict)


def kept_headers(headers) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def delivery_receive(*, api_key: ApiKey, body: bytes, headers, now: float | None = None) -> Receipt:
    """Everything after authentication. `headers` is a case-insensitive mapping."""
    account = api_key.account
    now = time.time() if now is None else now

    verification, problem = _verify(account, body, headers.get("X-Dixa-Signature"), now)
    if problem:
        return _reject(account, 401, "invalid_signature", problem, body, headers)

    try:
        envelope = envelope_parser.parse(body)
    except envelope_parser.EnvelopeError as exc:
        return _reject(account, 400, "invalid_payload", str(exc), body, headers)

    event, created = inbound_event_record(
        account=account,
        envelope=envelope,
        raw_body=body,
        headers=kept_headers(headers),
        verification=verification,
    )
    if not created:
        return Receipt(200, {"status": "duplicate", "event_id": envelope.event_id})
    return Receipt(202, {"status": "accepted", "event_id": envelope.event_id, "id": event.pk})


def _verify(account: Account, body: bytes, header: str | None, now: float):
    secrets = [s.secret for s in account.signing_secrets.filter(is_active=True)]
    if not secrets:
        if account.require_signature:
            return None, (
                "this account requires signed deliveries but has no active signing secret; "
                "add the Dixa webhook's secret key"
            )
        return InboundEvent.Verification.UNVERIFIED, None
    problem = signature.verify(
        header=header,
        body=body,
        secrets=secrets,
        now=now,
        tolerance=account.signature_tolerance_seconds,
    )
    if problem:
        return None, problem.value
    return InboundEvent.Verification.VERIFIED, None


def inbound_event_record(
    *,
    account: Account,
    envelope: envelope_parser.Envelope,
    raw_body: bytes,
    headers: dict,
    verification: str,
) -> tuple[InboundEvent | None, bool]:
    """Insert the event once. Returns (event, created); a repeat returns (None, False)."""
    from integrations.tasks import process_inbound_event

    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                account=account,
                event_id=envelope.event_id,
                event_type=envelope.event_type,
                event_fqn=envelope.event_fqn,
                is_known_type=envelope.is_known_type,
                event_timestamp=envelope.event_timestamp,
                csid=envelope.csid,
                queue_id=envelope.queue_id,
                channel=envelope.channel,
                organization_id=envelope.organization_id,
                raw_body=raw_body,
                headers=headers,
                verification=verification,
            )
            transaction.on_commit(partial(enqueue_in_background, process_inbound_event, event.pk))
    except IntegrityError:
        # The unique (account, event_id) constraint: Dixa sent this event before.
        return None, False
    return event, True


def _reject(account, status_code, code, reason, body, headers) -> Receipt:
    rejected_delivery_record(
        account=account, status_code=status_code, reason=reason, body=body, headers=headers
    )
    return Receipt(status_code, {"error": code, "detail": reason})


def rejected_delivery_record(
    *,
    account: Account,
    status_code: int,
    reason: str,
    body: bytes,
    headers,
    body_size: int | None = None,
) -> RejectedDelivery:
    keep = settings.REJECTED_BODY_KEEP_BYTES if status_code == 413 else len(body)
    return RejectedDelivery.objects.create(
        account=account,
        status_code=status_code,
        reason=reason,
        raw_body=body[:keep],
        body_size=len(body) if body_size is None else body_size,
        body_truncated=len(body) > keep or (body_size or 0) > len(body),
        headers=kept_headers(headers),
    )
