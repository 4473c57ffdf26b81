"""Receiving one Dixa delivery: verify, parse, store exactly once, answer after the commit."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations.dixa import envelope as envelope_parser
from integrations.dixa import signature
from integrations.dixa.envelope import storable
from integrations.models import Account, ApiKey, InboundEvent, InboundEventBody, RejectedDelivery
from integrations.outbox import NOTIFY_CHANNEL
from integrations.services.contacts import requester_contacts
from integrations.ttl_cache import TTLCache

logger = logging.getLogger(__name__)

# The request headers worth keeping with an event, by name and WSGI (request.META) key.
# Authorization is never stored.
KEPT_HEADERS = {
    "X-Dixa-Subscription-Id": "HTTP_X_DIXA_SUBSCRIPTION_ID",
    "X-Dixa-Signature": "HTTP_X_DIXA_SIGNATURE",
    "Content-Type": "CONTENT_TYPE",
    "User-Agent": "HTTP_USER_AGENT",
}


# A declared size beyond this (the column's range) is recorded as this.
MAX_RECORDED_SIZE = 2**31 - 1

# Decrypted active signing secrets per account (Fernet and a query per request otherwise).
_account_secrets: TTLCache[list[str]] = TTLCache(lambda: settings.AUTH_CACHE_SECONDS)


@dataclass(frozen=True)
class Receipt:
    status_code: int
    body: dict = field(default_factory=dict)


def kept_headers(meta) -> dict[str, str]:
    """The headers worth keeping, from a request's META (a WSGI environ), by their names.
    Read straight from META: building `request.headers` costs more than the rest of auth."""
    return {name: storable(meta[key]) for name, key in KEPT_HEADERS.items() if key in meta}


def delivery_receive(
    *,
    api_key: ApiKey,
    read: Callable[[int], bytes],
    declared_length: int | None,
    headers: dict[str, str],
    now: float | None = None,
) -> Receipt:
    """Everything after authentication: read the body, verify, parse, store once.

    `read(n)` reads at most n bytes of the body; `declared_length` is the request's
    Content-Length (None when it has none); `headers` is `kept_headers()` of the request.
    Refusals from an authenticated caller are kept (bounded) as rejected deliveries."""
    limit = settings.DIXA_MAX_BODY_BYTES
    if declared_length is None:
        return _reject(api_key, 411, "length_required", "send the body with a Content-Length")
    if declared_length > limit:
        reason = f"body is {declared_length} bytes; the limit is {limit}"
        head = read(settings.REJECTED_BODY_KEEP_BYTES)
        return _reject(api_key, 413, "payload_too_large", reason, head, headers, declared_length)
    body = read(declared_length)
    if len(body) < declared_length:
        reason = f"body ended after {len(body)} of the {declared_length} bytes declared"
        return _reject(api_key, 400, "incomplete_body", reason, body, headers, declared_length)

    account = api_key.account
    now = time.time() if now is None else now
    verification, problem = _verify(account, body, headers.get("X-Dixa-Signature"), now)
    if problem:
        return _reject(api_key, 401, "invalid_signature", problem, body, headers)

    try:
        envelope = envelope_parser.parse(body)
    except envelope_parser.EnvelopeError as exc:
        return _reject(api_key, 400, "invalid_payload", str(exc), body, headers)

    pk = inbound_event_record(
        account=account,
        envelope=envelope,
        raw_body=body,
        headers=headers,
        verification=verification,
    )
    if pk is None:
        return Receipt(200, {"status": "duplicate", "event_id": envelope.event_id})
    return Receipt(202, {"status": "accepted", "event_id": envelope.event_id, "id": pk})


@sensitive_variables("secrets")
def _verify(account: Account, body: bytes, header: str | None, now: float):
    secrets = _account_secrets.get_or_load(
        account.pk, lambda: [s.secret for s in account.signing_secrets.filter(is_active=True)]
    )
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
) -> int | None:
    """Store the event and its body once; the event's id, or None when Dixa sent it
    before. Returns only after the commit."""
    ops = connection.ops
    row = _event_row(account_id=account.pk, envelope=envelope, verification=verification)
    body = (raw_body, ops.adapt_json_value(headers, None))
    if connection.vendor == "postgresql":
        return _insert_postgresql(row, body)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_event_insert_sql(), row)
            stored = cursor.fetchone()
            if stored is None:
                return None
            cursor.execute(_body_insert_sql("VALUES (%s, %s, %s)"), (stored[0], *body))
    return stored[0]


def _insert_postgresql(row: tuple, body: tuple) -> int | None:
    """One statement, committed on its own (autocommit): the event's INSERT ... ON CONFLICT
    DO NOTHING (no error to unwind for a duplicate), its body's INSERT for a new row, and a
    NOTIFY, which PostgreSQL delivers at the commit and which wakes the dispatcher. Nothing
    on this path talks to the broker."""
    with connection.cursor() as cursor:
        cursor.execute(_postgresql_sql(), (*row, *body))
        stored = cursor.fetchone()
    return stored[0] if stored else None


def _event_row(*, account_id, envelope, verification) -> tuple:
    """The INSERT's values, in `_columns()` order. Building them directly (not through a
    model instance and each field's preparation) keeps this path cheap."""
    ops = connection.ops
    requester_email, requester_phone = requester_contacts(envelope.data)
    given = {
        "account_id": account_id,
        "event_id": envelope.event_id,
        "event_type": envelope.event_type,
        "event_fqn": envelope.event_fqn,
        "is_known_type": envelope.is_known_type,
        "event_timestamp": ops.adapt_datetimefield_value(envelope.event_timestamp),
        "csid": envelope.csid,
        "queue_id": envelope.queue_id,
        "channel": envelope.channel,
        "organization_id": envelope.organization_id,
        "requester_email": requester_email,
        "requester_phone": requester_phone,
        "verification": verification,
        "received_at": ops.adapt_datetimefield_value(timezone.now()),
    }
    values = {**_defaults(connection.vendor), **given}
    return tuple(values[column] for column in _columns())


@lru_cache(maxsize=1)
def _columns() -> tuple[str, ...]:
    return tuple(f.column for f in InboundEvent._meta.concrete_fields if not f.primary_key)


@lru_cache(maxsize=4)
def _defaults(vendor: str) -> dict:
    """Each column's default, prepared: what `InboundEvent()` would save for the columns
    _event_row() leaves alone (status, outcome, ...)."""
    return {
        field.column: field.get_db_prep_save(field.get_default(), connection)
        for field in InboundEvent._meta.concrete_fields
        if not field.primary_key
    }


# The SQL is made from the models' metadata (identifiers); every value is a bound parameter.
def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@lru_cache(maxsize=4)
def _event_insert_sql() -> str:
    columns = ", ".join(_quote(c) for c in _columns())
    placeholders = ", ".join(["%s"] * len(_columns()))
    table, pk = _quote(InboundEvent._meta.db_table), _quote(InboundEvent._meta.pk.column)
    conflict = f"{_quote('account_id')}, {_quote('event_id')}"
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {pk}"
    )


@lru_cache(maxsize=4)
def _body_insert_sql(source: str) -> str:
    table = _quote(InboundEventBody._meta.db_table)
    columns = ", ".join(_quote(c) for c in ("event_id", "raw_body", "headers"))
    return f"INSERT INTO {table} ({columns}) {source}"  # noqa: S608


@lru_cache(maxsize=4)
def _postgresql_sql() -> str:
    pk = _quote(InboundEvent._meta.pk.column)
    new_body = _body_insert_sql(f"SELECT {pk}, %s, %s FROM stored")  # noqa: S608
    # The notification names the table and the new row: `<table>:<id>`.
    table = InboundEvent._meta.db_table
    return (
        f"WITH stored AS ({_event_insert_sql()}), body AS ({new_body}) "  # noqa: S608
        f"SELECT {pk}, pg_notify('{NOTIFY_CHANNEL}', '{table}:' || {pk}) FROM stored"
    )


def _reject(
    api_key: ApiKey,
    status_code: int,
    code: str,
    reason: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    body_size: int | None = None,
) -> Receipt:
    rejected_delivery_record(
        api_key=api_key,
        status_code=status_code,
        reason=reason,
        body=body,
        headers=headers or {},
        body_size=body_size,
    )
    return Receipt(status_code, {"error": code, "detail": reason})


def rejected_delivery_record(
    *,
    api_key: ApiKey,
    status_code: int,
    reason: str,
    body: bytes,
    headers: dict[str, str],
    body_size: int | None = None,
) -> RejectedDelivery | None:
    """Keep a refused request for inspection: only the head of its body, and at most
    REJECTED_KEEP_PER_MINUTE per key (a misconfigured sender must not fill the disk).
    `body_size` is the declared size when only the head was read. None when not kept."""
    window_start = timezone.now() - timedelta(minutes=1)
    recent = RejectedDelivery.objects.filter(api_key=api_key, received_at__gte=window_start)
    if recent.count() >= settings.REJECTED_KEEP_PER_MINUTE:
        logger.warning("rejected delivery not kept: key %s is over its limit", api_key.prefix)
        return None
    size = len(body) if body_size is None else body_size
    head = body[: settings.REJECTED_BODY_KEEP_BYTES]
    return RejectedDelivery.objects.create(
        account_id=api_key.account_id,
        api_key=api_key,
        status_code=status_code,
        reason=reason,
        raw_body=head,
        body_size=min(size, MAX_RECORDED_SIZE),
        body_truncated=size > len(head),
        headers=headers,
    )
