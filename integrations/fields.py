from django.core.exceptions import ValidationError
from django.db import models

from integrations import crypto


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token; Python code sees the plaintext.

    Values cannot be filtered on (every encryption differs); look rows up by other fields.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)


def validate_header_value(value: str) -> None:
    """Credentials we send in HTTP headers (nps.today API keys, Dixa API tokens) must be
    printable ASCII without spaces: a header cannot carry line breaks, control characters or
    (portably) anything beyond ASCII, and such a key can only be a paste gone wrong."""
    bad = next((char for char in value if not "!" <= char <= "~"), None)
    if bad is not None:
        raise ValidationError(
            "HTTP headers cannot carry %(char)s: use printable ASCII only (no spaces, line "
            "breaks or control characters).",
            code="not_header_safe",
            params={"char": "a space" if bad == " " else f"{bad!r} (U+{ord(bad):04X})"},
        )
