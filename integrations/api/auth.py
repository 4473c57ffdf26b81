"""Who is calling: `Authorization: Bearer <key>` (Dixa's Token option) or Basic auth whose
password is the key (Dixa's Basic option; the custom card uses username `ApiKey`)."""

import base64
import binascii

from integrations.models import ApiKey
from integrations.services.api_keys import api_key_authenticate


class AuthenticationFailed(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def credential_from_header(header: str) -> str:
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in ("bearer", "token") and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthenticationFailed(
                "invalid_credentials", "Basic credentials are not base64"
            ) from exc
        _, sep, password = decoded.partition(":")
        if sep and password:
            return password
        raise AuthenticationFailed(
            "invalid_credentials", "Basic credentials must carry the API key as the password"
        )
    raise AuthenticationFailed(
        "invalid_credentials",
        "Authorization must be 'Bearer <api key>' or Basic with the key as password",
    )


def authenticate(meta) -> ApiKey:
    """The caller's active API key, from a request's META (a WSGI environ)."""
    header = meta.get("HTTP_AUTHORIZATION")
    if not header:
        raise AuthenticationFailed("missing_credentials", "Authorization header is missing")
    api_key = api_key_authenticate(plaintext=credential_from_header(header))
    if api_key is None:
        raise AuthenticationFailed("invalid_credentials", "API key is unknown or revoked")
    return api_key
