"""Encryption at rest for secrets we must read back (Dixa tokens, nps.today keys, signing
secrets). Fernet keys come from FIELD_ENCRYPTION_KEYS: the first encrypts, all decrypt."""

import base64
import hashlib
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

logger = logging.getLogger(__name__)


class DecryptionError(Exception):
    """The stored value was written with a key that is no longer configured."""


def _dev_key_from_secret_key(secret_key: str) -> str:
    # Only reachable outside production settings, which refuse to start without real keys.
    digest = hashlib.sha256(b"relay-field-encryption:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def configured_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip())
    if not keys:
        keys = (_dev_key_from_secret_key(settings.SECRET_KEY),)
    return keys


def encrypt(plaintext: str) -> str:
    return _multifernet(configured_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _multifernet(configured_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "no configured FIELD_ENCRYPTION_KEYS key decrypts this value"
        ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


def mask(plaintext: str) -> str:
    """What the admin shows of a secret: its last four characters."""
    if not plaintext:
        return ""
    return "••••" + plaintext[-4:]
