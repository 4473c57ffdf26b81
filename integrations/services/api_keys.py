import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.models import Account, ApiKey
from integrations.ttl_cache import TTLCache

KEY_PREFIX = "dsr_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
# Issued keys are 55 characters; a much longer one is refused before the lookup.
MAX_KEY_LENGTH = 512


# Keys by prefix, with their account. Revocation evicts in this process at once and
# reaches the others within AUTH_CACHE_SECONDS.
_keys: TTLCache[ApiKey | None] = TTLCache(lambda: settings.AUTH_CACHE_SECONDS)


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def _hash(plaintext: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; a slow KDF would only slow ingest.
    return hashlib.sha256(plaintext.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, account: Account, name: str) -> IssuedKey:
    plaintext = f"{KEY_PREFIX}{secrets.token_hex(4)}{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        account=account, name=name, prefix=plaintext[:PREFIX_LENGTH], key_hash=_hash(plaintext)
    )
    return IssuedKey(api_key=api_key, plaintext=plaintext)


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=api_key.revoked_at)
    _keys.evict(api_key.prefix)


def api_key_authenticate(*, plaintext: str) -> ApiKey | None:
    """The active key matching `plaintext`, with its account loaded; None otherwise."""
    if not _could_be_issued(plaintext):
        return None
    prefix = plaintext[:PREFIX_LENGTH]
    api_key = _keys.get_or_load(
        prefix,
        lambda: (
            ApiKey.objects.select_related("account").filter(prefix=prefix, revoked_at=None).first()
        ),
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(plaintext)):
        return None
    _touch_last_used(api_key)
    return api_key


def _could_be_issued(plaintext: str) -> bool:
    """Whether `plaintext` has an issued key's shape: printable ASCII (text PostgreSQL and
    SHA-256 can take: no NUL, no unpaired surrogate) of a sane length, with our prefix."""
    return (
        PREFIX_LENGTH < len(plaintext) <= MAX_KEY_LENGTH
        and plaintext.startswith(KEY_PREFIX)
        and plaintext.isascii()
        and plaintext.isprintable()
    )


def _touch_last_used(api_key: ApiKey) -> None:
    # At most one write per key per resolution window keeps the hot path to a read.
    now = timezone.now()
    cutoff = now - settings.API_KEY_LAST_USED_RESOLUTION
    if api_key.last_used_at is None or api_key.last_used_at < cutoff:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
