from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import metrics, structured_logs
from integrations.api.authentication import ApiKeyAuthentication
from integrations.services.ingest import delivery_receive, kept_headers


def declared_length(meta) -> int | None:
    """The request's Content-Length; None when it has none (a chunked body). A value that is
    not a number counts as 0, as Django reads it."""
    value = meta.get("CONTENT_LENGTH")
    if not value:
        return 0 if "HTTP_TRANSFER_ENCODING" not in meta else None
    try:
        return max(0, int(value))
    except ValueError:
        return 0


class DixaRelayView(APIView):
    """The URL an admin pastes into Dixa's webhook form (or that Connect Dixa registers).
    The body is read raw, never through DRF's parsers: the signature covers its bytes."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = []
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A wrong method is refused before credentials are looked at: 405, not 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def post(self, request):
        headers = kept_headers(request.META)
        # Kept with the event, so the work it causes later logs the same request id.
        headers[structured_logs.REQUEST_ID_HEADER] = structured_logs.current_request_id() or ""
        receipt = delivery_receive(
            api_key=request.auth,
            read=request.read,
            declared_length=declared_length(request.META),
            headers=headers,
        )
        if receipt.body.get("error") == "invalid_signature":
            metrics.signature_failures.labels(account=request.user.account.slug).inc()
        return Response(receipt.body, status=receipt.status_code)

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer counts, those of authentication and method checks too.
        data = getattr(response, "data", None)  # a plain JsonResponse (503) has none
        data = data if isinstance(data, dict) else {}
        outcome = data.get("status") or data.get("error")
        outcome = outcome if isinstance(outcome, str) else "other"
        metrics.deliveries_received.labels(outcome, str(response.status_code)).inc()
        return super().finalize_response(request, response, *args, **kwargs)
