"""Record what a person (or a command) did: one entry per account touched, naming the objects."""

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from integrations.audit.models import AuditEntry, AuditTarget

Actor = AbstractBaseUser | str


@transaction.atomic
def audit_record(
    *,
    actor: Actor,
    action: str,
    objects: models.QuerySet | Iterable[models.Model],
    summary: str,
    result: str,
) -> list[AuditEntry]:
    """Entries for `action` on `objects` (a queryset or model instances of one model), one per
    account they belong to. `actor` is the user, or the name of the command that acted.

    A queryset is read now: after an action, give the rows as they were selected (by primary
    key, as admin actions get them: integrations.admin.confirm.pinned, or instances), never
    a queryset filtered on what the action changed (it would no longer find them)."""
    pks_by_account, model = _group_by_account(objects)
    user = actor if isinstance(actor, AbstractBaseUser) else None
    label = actor.get_username() if user else str(actor)
    content_type = ContentType.objects.get_for_model(model) if model else None
    entries = []
    for account_id, pks in sorted(pks_by_account.items(), key=lambda kv: kv[0] or 0):
        entry = AuditEntry.objects.create(
            account_id=account_id,
            actor=user,
            actor_label=label[:150],
            action=action,
            content_type=content_type,
            object_count=len(pks),
            summary=summary,
            result=result,
        )
        AuditTarget.objects.bulk_create(AuditTarget(entry=entry, object_id=str(pk)) for pk in pks)
        entries.append(entry)
    return entries


def _group_by_account(objects) -> tuple[dict[int | None, list], type | None]:
    from integrations.admin.scoping import account_path  # the admin package imports this one

    grouped: dict[int | None, list] = defaultdict(list)
    if isinstance(objects, models.QuerySet):
        model = objects.model
        path = account_path(model)
        if path is not None:
            rows = objects.values_list("pk", path or "pk")
        else:
            rows = ((pk, None) for pk in objects.values_list("pk", flat=True))
        for pk, account_id in rows:
            grouped[account_id].append(pk)
        return grouped, model
    model = None
    for obj in objects:
        model = type(obj)
        grouped[_account_id_of(obj)].append(obj.pk)
    return grouped, model


def _account_id_of(obj) -> int | None:
    from integrations.admin.scoping import account_path

    path = account_path(type(obj))
    if path is None:
        return None
    if path == "":
        return obj.pk
    value = obj
    for step in path.split("__")[:-1]:
        value = getattr(value, step, None)
    return getattr(value, f"{path.split('__')[-1]}_id", None) if value is not None else None
