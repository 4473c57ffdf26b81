"""The admin's dry run vouches for the erase that follows it, and for nothing else: the page
carries a signed token of what was previewed (the person's fingerprint, never the value, the
accounts, and who looked), and an erase whose values differ from it, posted by someone else,
or too late, erases nothing."""

from django.core import signing
from django.db.models import QuerySet

from integrations.erasure.registry import Subject
from integrations.erasure.services import fingerprint

SALT = "integrations.erasure.preview"
MAX_AGE_MINUTES = 15


def _previewed(subject: Subject, accounts: QuerySet, user) -> dict:
    return {
        "subject": fingerprint(subject),
        "accounts": sorted(accounts.values_list("pk", flat=True)),
        "by": user.pk,
    }


def erasure_preview_token(*, subject: Subject, accounts: QuerySet, user) -> str:
    """What `user` saw in the dry run of erasing `subject` in `accounts`, signed."""
    return signing.dumps(_previewed(subject, accounts, user), salt=SALT)


def erasure_preview_mismatch(
    *, token: str, subject: Subject, accounts: QuerySet, user
) -> str | None:
    """Why `token` does not allow `user` to erase `subject` in `accounts`; None when it
    does."""
    try:
        previewed = signing.loads(token, salt=SALT, max_age=MAX_AGE_MINUTES * 60)
    except signing.SignatureExpired:
        return f"the dry run is more than {MAX_AGE_MINUTES} minutes old"
    except signing.BadSignature:
        previewed = None
    if isinstance(previewed, dict) and previewed.get("by") != user.pk:
        return "the dry run was another user's"
    if previewed != _previewed(subject, accounts, user):
        return "the person or the accounts changed since the dry run"
    return None
