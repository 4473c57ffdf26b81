"""DRF authentication for machine callers: our API key as `Authorization: Bearer <key>`
(Dixa's Token option) or as the password of Basic auth (Dixa's Basic option; the custom
card sends username `ApiKey`)."""

from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables
from rest_framework import authentication, exceptions

from integrations.api.credentials import AuthenticationFailed, credential_from_header
from integrations.models import ApiKey
from integrations.services.api_keys import api_key_authenticate


@dataclass(frozen=True)
class ApiKeyCaller:
    """`request.user` for a request made with an API key: the key's account, no person."""

    api_key: ApiKey
    is_authenticated = True

    @property
    def account(self):
        return self.api_key.account


class ApiKeyAuthentication(authentication.BaseAuthentication):
    realm = "relay"

    @sensitive_variables("header", "plaintext")
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            raise exceptions.AuthenticationFailed(
                "Authorization header is missing", code="missing_credentials"
            )
        try:
            plaintext = credential_from_header(header)
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(exc.detail, code=exc.code) from exc
        api_key = api_key_authenticate(plaintext=plaintext)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "API key is unknown or revoked", code="invalid_credentials"
            )
        return ApiKeyCaller(api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.realm}"'
