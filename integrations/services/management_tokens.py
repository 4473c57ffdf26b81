"""Tokens for the management API (/api/v1/): one person's, acting as that person, scoped to
their accounts. Stored like API keys: SHA-256 and a lookup prefix, shown once, revocable."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.models import ManagementToken

TOKEN_PREFIX = "dsm_"  # noqa: S105 (a marker, not a secret)
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class IssuedToken:
    token: ManagementToken
    plaintext: str  # shown once, never stored


def _hash(plaintext: str) -> str:
    # 256 random bits: a fast hash is enough (nothing to brute-force), a slow KDF only costs.
    return hashlib.sha256(plaintext.encode()).hexdigest()


@transaction.atomic
def management_token_create(*, user, name: str) -> IssuedToken:
    plaintext = f"{TOKEN_PREFIX}{secrets.token_hex(4)}{secrets.token_urlsafe(32)}"
    token = ManagementToken.objects.create(
        user=user, name=name, prefix=plaintext[:PREFIX_LENGTH], key_hash=_hash(plaintext)
    )
    return IssuedToken(token=token, plaintext=plaintext)


def management_token_revoke(*, token: ManagementToken) -> bool:
    """Revoke `token`; False when it already was."""
    now = timezone.now()
    changed = ManagementToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=now)
    if changed:
        token.revoked_at = now
    return bool(changed)


def management_token_authenticate(*, plaintext: str) -> ManagementToken | None:
    """The active token matching `plaintext` whose user is active, with the user loaded."""
    if not _could_be_issued(plaintext):
        return None
    token = (
        ManagementToken.objects.select_related("user")
        .filter(prefix=plaintext[:PREFIX_LENGTH], revoked_at=None)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, _hash(plaintext)):
        return None
    if not token.user.is_active:
        return None
    _touch_last_used(token)
    return token


def _could_be_issued(plaintext: str) -> bool:
    return (
        PREFIX_LENGTH < len(plaintext) <= MAX_TOKEN_LENGTH
        and plaintext.startswith(TOKEN_PREFIX)
        and plaintext.isascii()
        and plaintext.isprintable()
    )


def _touch_last_used(token: ManagementToken) -> None:
    now = timezone.now()
    if (
        token.last_used_at is None
        or token.last_used_at < now - settings.API_KEY_LAST_USED_RESOLUTION
    ):
        ManagementToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
