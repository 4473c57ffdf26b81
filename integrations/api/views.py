from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations.api.auth import AuthenticationFailed, authenticate
from integrations.services.ingest import delivery_receive, kept_headers, rejected_delivery_record


def _error(status: int, code: str, detail: str, **headers) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status, headers=headers)


@csrf_exempt
def dixa_relay(request):
    """The URL an admin pastes into Dixa's webhook form. Served by `fast_path` under the
    platform's WSGI entry point, and by Django's URL resolver everywhere else."""
    if request.method != "POST":
        return _error(405, "method_not_allowed", "send deliveries with POST", Allow="POST")
    try:
        api_key = authenticate(request.META)
    except AuthenticationFailed as exc:
        return _error(401, exc.code, exc.detail, **{"WWW-Authenticate": 'Bearer realm="relay"'})

    headers = kept_headers(request.META)
    limit = settings.DIXA_MAX_BODY_BYTES
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > limit:
        head = request.read(settings.REJECTED_BODY_KEEP_BYTES)
        reason = f"body is {declared} bytes; the limit is {limit}"
        rejected_delivery_record(
            account=api_key.account,
            status_code=413,
            reason=reason,
            body=head,
            body_size=declared,
            headers=headers,
        )
        return _error(413, "payload_too_large", reason)

    receipt = delivery_receive(api_key=api_key, body=request.read(), headers=headers)
    return JsonResponse(receipt.body, status=receipt.status_code)
