import logging

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api.views import declared_length
from pgap.api.authentication import ResponseHookAuthentication
from pgap.services.responses import survey_response_receive

logger = logging.getLogger(__name__)


class NpsTodayResponseView(APIView):
    """nps.today's new-response webhook, at the URL of a response hook.

    The body is read raw (no DRF parser): the size limit applies before anything is read
    into memory, and every way JSON can be wrong (NaN, huge numbers, deep nesting, lone
    surrogates) is answered by one parser with a 400 and its reason."""

    authentication_classes = [ResponseHookAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = []
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A wrong method is refused before the secret is looked at: 405, not 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def post(self, request, secret: str = ""):
        receipt = survey_response_receive(
            account=request.auth.account,
            read=request.read,
            declared_length=declared_length(request.META),
        )
        return Response(receipt.body, status=receipt.status_code)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            # Django would log the path, and with it the secret: log the prefix instead.
            response._has_been_logged = True
            hook = getattr(request, "_auth", None)  # without authenticating (405 comes first)
            logger.warning(
                "nps.today response hook %s: %s %s",
                f"{hook.prefix}…" if hook else "(none)",
                response.status_code,
                (response.data or {}).get("error", "") if isinstance(response.data, dict) else "",
            )
        return response
