"""The admin's dry run vouches for the erase that follows it, and for nothing else: the page
carries a signed token of what was previewed (the person's fingerprint, never the value, and
the accounts), and an erase whose values differ from it, or comes too late, erases nothing."""

from django.core import signing
from django.db.models import QuerySet

from integrations.erasure.registry import Subject
from integrations.erasure.services import fingerprint

SALT = "integrations.erasure.preview"
MAX_AGE_MINUTES = 15


def _previewed(subject: Subject, accounts: QuerySet) -> dict:
    return {
        "subject": fingerprint(subject),
        "accounts": sorted(accounts.values_list("pk", flat=True)),
    }


def erasure_preview_token(*, subject: Subject, accounts: QuerySet) -> str:
    return signing.dumps(_previewed(subject, accounts), salt=SALT)


def erasure_preview_mismatch(*, token: str, subject: Subject, accounts: QuerySet) -> str | None:
    """Why `token` does not allow erasing `subject` in `accounts`; None when it does."""
    try:
        previewed = signing.loads(token, salt=SALT, max_age=MAX_AGE_MINUTES * 60)
    except signing.SignatureExpired:
        return f"the dry run is more than {MAX_AGE_MINUTES} minutes old"
    except signing.BadSignature:
        previewed = None
    if previewed != _previewed(subject, accounts):
        return "the person or the accounts changed since the dry run"
    return None
