"""`Authorization: Bearer <token>` with a management token (integrations.services.
management_tokens): the request acts as the token's user."""

from django.views.decorators.debug import sensitive_variables
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from integrations.api.credentials import AuthenticationFailed, credential_from_header
from integrations.services.management_tokens import management_token_authenticate


class ManagementTokenAuthentication(authentication.BaseAuthentication):
    realm = "management"

    @sensitive_variables("header", "plaintext")
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None  # the permission answers 401 with WWW-Authenticate
        try:
            plaintext = credential_from_header(header)
        except AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(exc.detail, code=exc.code) from exc
        token = management_token_authenticate(plaintext=plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed(
                "token is unknown or revoked, or its user is inactive", code="invalid_credentials"
            )
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.realm}"'


class ManagementTokenScheme(OpenApiAuthenticationExtension):
    target_class = ManagementTokenAuthentication
    name = "managementToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A management token: issue one in the admin (Management tokens "
            "→ Add; shown once) or with `manage.py create_management_token`. Signing in to "
            "the admin does not authorise these calls.",
        }
