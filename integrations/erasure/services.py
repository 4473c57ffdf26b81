"""Erase a person's data on request (GDPR): `personal_data_erase`.

The person is named by email, phone, Dixa requester id or one conversation (csid). First every
registered step says in which conversations it finds the person; then every step erases, in
those conversations and wherever the person is named: emails, phones, names, ids and bodies
are removed or replaced, while what the counts and scores need (events, outcomes, surveys'
statuses, scores) stays. One transaction; a dry run counts and changes nothing. Each run,
dry or not, leaves an `Erasure` record. Retention and erasure are the only deletions.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Func, Q
from django.utils.crypto import salted_hmac

from integrations.erasure import registry
from integrations.erasure.models import Erasure
from integrations.erasure.registry import Subject
from integrations.models import Account, InboundEvent, InboundEventBody, RejectedDelivery
from integrations.progress import Progress

ERASED = "[erased]"


def subject_for(kind: str, value: str) -> Subject:
    """The person as stored (emails lower-cased); ValidationError for a value that can't be."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Say whose data to erase.")
    if kind == Erasure.Kind.EMAIL:
        validate_email(value)
        return Subject(kind, value.lower())
    if kind == Erasure.Kind.CSID:
        if not value.isdigit():
            raise ValidationError("A csid is a number.")
        return Subject(kind, str(int(value)))
    if kind in (Erasure.Kind.PHONE, Erasure.Kind.REQUESTER):
        return Subject(kind, value)
    raise ValidationError(f"Unknown kind {kind!r}.")


def fingerprint(subject: Subject) -> str:
    return salted_hmac("relay.erasure", f"{subject.kind}:{subject.value}").hexdigest()


def personal_data_erase(
    *,
    subject: Subject,
    accounts: models.QuerySet,
    actor,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[Erasure]:
    """Erase in each of `accounts` (a csid names a conversation of one Dixa organisation, so
    each account is searched on its own); one record per account."""
    accounts = list(accounts.order_by("pk"))
    if progress is not None:
        progress.set_total(len(accounts))
    records = []
    for account in accounts:
        records.append(_erase_in(account, subject, actor, dry_run))
        if progress is not None:
            progress.advance()
    return records


def _erase_in(account: Account, subject: Subject, actor, dry_run: bool) -> Erasure:
    scope = Account.objects.filter(pk=account.pk)
    with transaction.atomic():
        csids = {int(subject.value)} if subject.kind == Erasure.Kind.CSID else set()
        for step in registry.steps():
            if step.find is not None:
                csids |= step.find(subject, scope)
        counts = {
            step.name: step.erase(subject, scope, csids, dry_run) for step in registry.steps()
        }
        user = actor if getattr(actor, "pk", None) else None
        return Erasure.objects.create(
            account=account,
            actor=user,
            actor_label=(actor.get_username() if user else str(actor))[:150],
            kind=subject.kind,
            fingerprint=fingerprint(subject),
            dry_run=dry_run,
            conversations=len(csids),
            counts=counts,
        )


class BytesPosition(Func):
    """Where `needle` (bytes) starts in a binary column; 0 when it doesn't occur."""

    output_field = models.IntegerField()

    def __init__(self, column: str, needle: bytes):
        super().__init__(models.F(column), models.Value(needle, models.BinaryField()))

    def as_sql(self, compiler, connection, **extra):
        return self._render(compiler, "POSITION({needle} IN {column})", needle_first=True)

    def as_sqlite(self, compiler, connection, **extra):
        return self._render(compiler, "INSTR({column}, {needle})", needle_first=False)

    def _render(self, compiler, template: str, *, needle_first: bool):
        (column, column_params), (needle, needle_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        params = (
            [*needle_params, *column_params]
            if needle_first
            else [
                *column_params,
                *needle_params,
            ]
        )
        return template.format(column=column, needle=needle), params


def bodies_naming(queryset: models.QuerySet, column: str, subject: Subject) -> models.QuerySet:
    """Rows whose raw body holds the person's value, byte for byte (so an email is found in a
    body as it is stored: lower-cased; events are found by their indexed columns too)."""
    if subject.kind == Erasure.Kind.CSID:
        return queryset.none()
    needle = subject.value.encode()
    return queryset.annotate(_at=BytesPosition(column, needle)).filter(_at__gt=0)


# --- integrations' steps ------------------------------------------------------------------


def _events(subject: Subject, accounts, csids: set[int]) -> models.QuerySet:
    match = Q(csid__in=csids) if csids else Q(pk__in=[])
    if subject.kind == Erasure.Kind.EMAIL:
        match |= Q(requester_email=subject.value)
    elif subject.kind == Erasure.Kind.PHONE:
        match |= Q(requester_phone=subject.value)
    events = InboundEvent.objects.filter(account__in=accounts)
    by_body = bodies_naming(
        InboundEventBody.objects.filter(event__account__in=accounts), "raw_body", subject
    )
    return events.filter(match | Q(pk__in=by_body.values("event_id")))


def _find_in_events(subject: Subject, accounts) -> set[int]:
    found = _events(subject, accounts, set()).exclude(csid=None).values_list("csid", flat=True)
    return set(found)


def _erase_events(subject: Subject, accounts, csids: set[int], dry_run: bool) -> int:
    events = _events(subject, accounts, csids)
    pks = list(events.values_list("pk", flat=True))
    if not dry_run and pks:
        InboundEventBody.objects.filter(event_id__in=pks).delete()
        InboundEvent.objects.filter(pk__in=pks).update(requester_email="", requester_phone="")
    return len(pks)


def _erase_rejected(subject: Subject, accounts, csids: set[int], dry_run: bool) -> int:
    rows = bodies_naming(RejectedDelivery.objects.filter(account__in=accounts), "raw_body", subject)
    pks = list(rows.values_list("pk", flat=True))
    if not dry_run and pks:
        RejectedDelivery.objects.filter(pk__in=pks).update(
            raw_body=ERASED.encode(), body_truncated=False, headers={}
        )
    return len(pks)


registry.register("inbound events", _erase_events, find=_find_in_events)
registry.register("rejected deliveries", _erase_rejected)
