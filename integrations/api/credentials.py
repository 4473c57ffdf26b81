"""Reading our API key from an Authorization header: `Bearer <key>` (Dixa's Token option)
or Basic auth whose password is the key (Dixa's Basic option; the custom card uses
username `ApiKey`). The DRF authentication class (`authentication.py`) looks the key up."""

import base64
import binascii
import re

# Issued API keys are 55 printable ASCII characters; Basic adds a username and base64.
MAX_HEADER_LENGTH = 1024
MAX_CREDENTIAL_LENGTH = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AuthenticationFailed(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _refused(detail: str) -> AuthenticationFailed:
    return AuthenticationFailed("invalid_credentials", detail)


def credential_from_header(header: str) -> str:
    """The API key in an Authorization value. Anything no key could be (beyond ASCII, with
    control characters, too long) is refused here, before any lookup."""
    if len(header) > MAX_HEADER_LENGTH:
        raise _refused(f"Authorization is too long (over {MAX_HEADER_LENGTH} characters)")
    if not header.isascii():
        raise _refused("Authorization must be ASCII")
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in ("bearer", "token") and value:
        return _checked(value)
    if scheme == "basic" and value:
        return _checked(_basic_password(value))
    raise _refused("Authorization must be 'Bearer <api key>' or Basic with the key as password")


def _basic_password(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _refused("Basic credentials are not base64") from exc
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refused("Basic credentials are not UTF-8") from exc
    if _CONTROL.search(text):
        raise _refused("Basic credentials contain a control character")
    _, sep, password = text.partition(":")
    if not (sep and password):
        raise _refused("Basic credentials must carry the API key as the password")
    return password


def _checked(credential: str) -> str:
    if len(credential) > MAX_CREDENTIAL_LENGTH:
        raise _refused(f"the API key is too long (over {MAX_CREDENTIAL_LENGTH} characters)")
    if not credential.isascii():
        raise _refused("the API key must be ASCII")
    if _CONTROL.search(credential):
        raise _refused("the API key contains a control character")
    return credential
