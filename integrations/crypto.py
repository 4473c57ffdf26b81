"""Encryption at rest for secrets we must read back (Dixa tokens, nps.today keys, signing
secrets). Fernet keys come from FIELD_ENCRYPTION_KEYS: the first encrypts, all decrypt."""

import logging
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

logger = logging.getLogger(__name__)


class DecryptionError(Exception):
    """The stored value was written with a key that is no longer configured."""


@lru_cache(maxsize=4)
def _local_key(run_dir: str) -> str:
    """A key of this machine's own, kept in RUN_DIR (0600), for a laptop without
    FIELD_ENCRYPTION_KEYS. Only reachable outside production settings, which refuse to
    start without real keys. Deriving one from the (public) default secret key would make
    every laptop's secrets readable by anyone."""
    path = Path(run_dir) / "field-encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate_key())
        logger.warning(
            "FIELD_ENCRYPTION_KEYS is not set: generated a local key in %s. Set "
            "FIELD_ENCRYPTION_KEYS (manage.py generate_encryption_key) for any real use.",
            path,
        )
    return path.read_text().strip()


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def configured_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip())
    if not keys:
        keys = (_local_key(str(settings.RUN_DIR)),)
    return keys


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    return _multifernet(configured_keys()).encrypt(plaintext.encode()).decode()


@sensitive_variables()
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
