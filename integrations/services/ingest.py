"""Receiving one Dixa delivery: verify, parse, store exactly once, answer after the commit."""

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from integrations.dixa import envelope as envelope_parser
from integrations.dixa import signature
from integrations.models import Account, ApiKey, InboundEvent, RejectedDelivery
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


# Decrypted active signing secrets per account (Fernet and a query per request otherwise).
_account_secrets: TTLCache[list[str]] = TTLCache(lambda: settings.AUTH_CACHE_SECONDS)


@dataclass(frozen=True)
class Receipt:
    status_code: int
    body: dict = field(default_factory=dict)


def kept_headers(meta) -> dict[str, str]:
    """The headers worth keeping, from a request's META (a WSGI environ), by their names.
    Read straight from META: building `request.headers` costs more than the rest of auth."""
    return {name: meta[key] for name, key in KEPT_HEADERS.items() if key in meta}


def delivery_receive(
    *, api_key: ApiKey, body: bytes, headers: dict[str, str], now: float | None = None
) -> Receipt:
    """Everything after authentication. `headers` is `kept_headers()` of the request."""
    account = api_key.account
    now = time.time() if now is None else now

    verification, problem = _verify(account, body, headers.get("X-Dixa-Signature"), now)
    if problem:
        return _reject(account, 401, "invalid_signature", problem, body, headers)

    try:
        envelope = envelope_parser.parse(body)
    except envelope_parser.EnvelopeError as exc:
        return _reject(account, 400, "invalid_payload", str(exc), body, headers)

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
    """Store the event once; its id, or None when Dixa sent it before. Returns only after
    the commit. Nothing is queued here: the worker's dispatcher finds new rows itself."""
    row = _event_row(
        account_id=account.pk,
        envelope=envelope,
        raw_body=raw_body,
        headers=headers,
        verification=verification,
    )
    return _insert(row)


def _event_row(*, account_id, envelope, raw_body, headers, verification) -> tuple:
    """The INSERT's values, in `_columns()` order. Building them directly (not through a
    model instance and each field's preparation) is most of what keeps this path cheap."""
    ops = connection.ops
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
        "raw_body": raw_body,
        "headers": ops.adapt_json_value(headers, None),
        "verification": verification,
        "received_at": ops.adapt_datetimefield_value(timezone.now()),
    }
    values = {**_defaults(connection.vendor), **given}
    return tuple(values[column] for column in _columns())


def _insert(row: tuple) -> int | None:
    """One `INSERT ... ON CONFLICT DO NOTHING RETURNING id` statement, committed on its own
    (autocommit): no transaction round trips and no error to unwind for a duplicate."""
    sql = _insert_sql(connection.vendor)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, row)
            stored = cursor.fetchone()
        return stored[0] if stored else None
    connection.ensure_connection()
    # Django's error translation (OperationalError -> 503) and broken-connection tracking,
    # without its cursor wrapper: the statement is not in DEBUG's query log.
    with connection.wrap_database_errors:
        stored = _kept_cursor().execute(sql, row).fetchone()
    return stored[0] if stored else None


_cursors = threading.local()


def _kept_cursor():
    """One psycopg cursor per database connection (and so per thread), reused for every
    INSERT: a new cursor works out again how to send each of the row's 20 values, which
    cost about a sixth of the request's CPU."""
    raw = connection.connection
    if getattr(_cursors, "connection", None) is not raw:
        _cursors.connection, _cursors.cursor = raw, raw.cursor()
    return _cursors.cursor


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


@lru_cache(maxsize=4)
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in _columns())
    placeholders = ", ".join(["%s"] * len(_columns()))
    # Identifiers come from the model's metadata; every value is a bound parameter.
    table, pk = quote(InboundEvent._meta.db_table), quote(InboundEvent._meta.pk.column)
    conflict = f"{quote('account_id')}, {quote('event_id')}"
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {pk}"
    )


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
    headers: dict[str, str],
    body_size: int | None = None,
) -> RejectedDelivery:
    """`body` is what was read; `body_size` the declared size when only its head was read.
    `headers` is `kept_headers()` of the request."""
    size = len(body) if body_size is None else body_size
    return RejectedDelivery.objects.create(
        account=account,
        status_code=status_code,
        reason=reason,
        raw_body=body,
        body_size=size,
        body_truncated=size > len(body),
        headers=headers,
    )
