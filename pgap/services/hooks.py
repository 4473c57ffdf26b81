"""Response hooks: the secret in the URL nps.today posts new responses to. Issued like our API
keys (integrations.services.api_keys): random, shown once, stored as SHA-256 with a prefix
for the lookup, compared in constant time, revocable."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from integrations.models import Account
from pgap.models import ResponseHook

HOOK_PREFIX = "prh_"
PREFIX_LENGTH = len(HOOK_PREFIX) + 8
# Issued secrets are 55 characters; a much longer one is refused before the lookup.
MAX_SECRET_LENGTH = 200
URL_NAME = "npstoday-responses"


@dataclass(frozen=True)
class IssuedHook:
    hook: ResponseHook
    secret: str  # shown once (inside the URL), never stored

    def url(self, base_url: str) -> str:
        return response_hook_url(secret=self.secret, base_url=base_url)


def _hash(secret: str) -> str:
    # 256 random bits: a fast hash is enough.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def response_hook_create(*, account: Account) -> IssuedHook:
    # token_urlsafe: letters, digits, "-" and "_", all of them safe in a URL path.
    secret = f"{HOOK_PREFIX}{secrets.token_hex(4)}{secrets.token_urlsafe(32)}"
    hook = ResponseHook.objects.create(
        account=account, prefix=secret[:PREFIX_LENGTH], secret_hash=_hash(secret)
    )
    return IssuedHook(hook=hook, secret=secret)


def response_hook_revoke(*, hook: ResponseHook) -> bool:
    """Revoke `hook`; False when it was revoked already."""
    if hook.revoked_at is not None:
        return False
    hook.revoked_at = timezone.now()
    return bool(
        ResponseHook.objects.filter(pk=hook.pk, revoked_at=None).update(revoked_at=hook.revoked_at)
    )


def response_hook_authenticate(*, secret: str) -> ResponseHook | None:
    """The active hook whose secret is `secret`, with its account; None otherwise. No cache:
    a revocation takes effect on the next request, in every process."""
    if not _could_be_issued(secret):
        return None
    hook = (
        ResponseHook.objects.select_related("account")
        .filter(prefix=secret[:PREFIX_LENGTH], revoked_at=None)
        .first()
    )
    if hook is None or not hmac.compare_digest(hook.secret_hash, _hash(secret)):
        return None
    return hook


def response_hook_url(*, secret: str, base_url: str) -> str:
    """The full URL to give nps.today: our path on `base_url` (in the admin, PUBLIC_URL or
    the request's address: integrations.public_url.public_base)."""
    return base_url.rstrip("/") + reverse(URL_NAME, kwargs={"secret": secret})


def _could_be_issued(secret: str) -> bool:
    return (
        PREFIX_LENGTH < len(secret) <= MAX_SECRET_LENGTH
        and secret.startswith(HOOK_PREFIX)
        and secret.isascii()
        and secret.isprintable()
    )
