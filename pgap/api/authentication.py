"""DRF authentication for nps.today's response webhook: nps.today can only be given a target
URL, so the hook's secret is the URL's last segment (/api/npstoday/responses/<secret>)."""

from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables
from rest_framework import authentication, exceptions

from pgap.models import ResponseHook
from pgap.services.hooks import response_hook_authenticate


@dataclass(frozen=True)
class HookCaller:
    """`request.user` for a request to a response hook: the hook's account, no person."""

    hook: ResponseHook
    is_authenticated = True

    @property
    def account(self):
        return self.hook.account


class ResponseHookAuthentication(authentication.BaseAuthentication):
    @sensitive_variables("secret")
    def authenticate(self, request):
        secret = request.parser_context["kwargs"].get("secret", "")
        if not secret:
            raise exceptions.AuthenticationFailed(
                "the URL carries no hook secret", code="missing_credentials"
            )
        hook = response_hook_authenticate(secret=secret)
        if hook is None:
            raise exceptions.AuthenticationFailed(
                "the hook secret is unknown or revoked", code="invalid_credentials"
            )
        return HookCaller(hook), hook

    def authenticate_header(self, request) -> str:
        # Without one DRF turns the 401 into a 403.
        return 'Secret realm="npstoday-responses"'
