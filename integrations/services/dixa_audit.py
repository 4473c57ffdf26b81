"""What a Dixa action did to an account's credentials, in the audit trail: relay keys issued
and revoked, Dixa's secret keys kept and retired, signatures switched on. Worked out as the
difference between the account's credentials before and after, so Connect, rotation,
replacement, disconnect and the beat that finishes rotations are covered in one place. A
change someone else makes while the action runs (an admin revoking a key meanwhile) is
credited to the action too; that admin's own entry records it as well."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from integrations.audit.services import audit_record
from integrations.models import Account, ApiKey, SigningSecret

ACTION = "Dixa credentials"


@dataclass(frozen=True)
class Credentials:
    keys: dict[int, str]  # active relay keys: pk -> prefix
    secrets: dict[int, str]  # active signing secrets: pk -> label
    require_signature: bool


def credentials_of(account: Account) -> Credentials:
    return Credentials(
        keys=dict(
            ApiKey.objects.filter(account=account, revoked_at=None).values_list("pk", "prefix")
        ),
        secrets=dict(
            SigningSecret.objects.filter(account=account, is_active=True).values_list("pk", "label")
        ),
        require_signature=Account.objects.filter(pk=account.pk)
        .values_list("require_signature", flat=True)
        .get(),
    )


def differences(before: Credentials, after: Credentials) -> list[str]:
    found = [f"relay key {after.keys[pk]}… issued" for pk in after.keys.keys() - before.keys]
    found += [f"relay key {before.keys[pk]}… revoked" for pk in before.keys.keys() - after.keys]
    found += [
        f"signing secret '{after.secrets[pk]}' kept" for pk in after.secrets.keys() - before.secrets
    ]
    found += [
        f"signing secret '{before.secrets[pk]}' retired"
        for pk in before.secrets.keys() - after.secrets
    ]
    if after.require_signature != before.require_signature:
        found.append(
            "signatures required" if after.require_signature else "signatures not required"
        )
    return sorted(found, key=lambda text: ("issued" not in text, text))


@contextmanager
def credentials_audited(account: Account, actor: str) -> Iterator[None]:
    """Record what the block changed in the account's credentials (also when it raises, e.g.
    Dixa busy after a key was issued and revoked again)."""
    before = credentials_of(account)
    try:
        yield
    finally:
        found = differences(before, credentials_of(account))
        if found:
            audit_record(
                actor=actor,
                action=ACTION,
                objects=[account],
                summary="; ".join(found),
                result=f"{len(found)} change(s)",
            )
