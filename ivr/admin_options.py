"""The mapping form's pickers and "Test connection" (admin views; the form itself calls no
outside API). Options come through the cached selectors; the test asks afresh."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect

from integrations.admin.scoping import visible_accounts
from integrations.clients import dixa, npstoday
from integrations.clients.http import ApiUnavailable
from integrations.fields import validate_header_value
from integrations.services.connection_checks import explain, refused
from ivr import selectors
from ivr.services.mapping_checks import dixa_queue_check, npstoday_campaign_check


def _refuse(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _unavailable(service: str, credential: str, exc: ApiUnavailable, *, what: str) -> JsonResponse:
    """A refused token or key is the admin's input (400, a warning in the log). A service
    that is down or limiting us is a bad gateway (502), and the id may be typed by hand
    meanwhile (saving then offers "Save anyway")."""
    if refused(exc):
        return _refuse(explain(service, credential, exc))
    if getattr(exc, "status", None) == 429:
        sentence, again = f"{service} is limiting our requests (429)", "try again in a minute"
    else:
        sentence, again = explain(service, credential, exc).removesuffix("."), "try again"
    return _refuse(f"{sentence}. Type the {what} id yourself, or {again}.", 502)


def _id(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def mapping_options_view(model_admin, request, kind: str):
    """(POST) token/account/mapping → {"options": [{id, label}]} or {"error": sentence}."""
    if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
        raise PermissionDenied
    if kind == "queues":
        return _queues(model_admin, request)
    if kind == "campaigns":
        return _campaigns(request)
    return _refuse(f"Nothing to load for {kind!r}.", 404)


def _queues(model_admin, request) -> JsonResponse:
    token = request.POST.get("token", "").strip()
    mapping_id = _id(request.POST.get("mapping", ""))
    if not token and mapping_id:
        mapping = model_admin.get_queryset(request).filter(pk=mapping_id).first()
        token = mapping.dixa_api_token if mapping else ""
    if not token:
        return _refuse("Type the mapping's Dixa API token first.")
    try:
        validate_header_value(token)
    except ValidationError as exc:
        return _refuse(f"That token cannot be sent to Dixa: {exc.messages[0]}")
    try:
        queues = selectors.dixa_queues(token)
    except ApiUnavailable as exc:
        return _unavailable("Dixa", "token", exc, what="queue")
    options = [{"id": q.id, "label": f"{q.name} · {q.id}" if q.name else q.id} for q in queues]
    return JsonResponse({"options": options})


def _campaigns(request) -> JsonResponse:
    account_id = _id(request.POST.get("account", ""))
    account = visible_accounts(request.user).filter(pk=account_id).first() if account_id else None
    if account is None:
        return _refuse("Choose the account first.")
    if not account.npstoday_api_key:
        return _refuse(f"{account} has no nps.today API key: set it on the account first.")
    try:
        campaigns = selectors.npstoday_campaigns(account.npstoday_api_key)
    except ApiUnavailable as exc:
        return _unavailable("nps.today", "account's API key", exc, what="campaign")
    options = [{"id": str(c.id), "label": f"{c.id} · {c.name}"} for c in campaigns]
    return JsonResponse({"options": options})


def mapping_test_connection_view(model_admin, request, object_id: str):
    """Ask Dixa and nps.today afresh, and say what they answered."""
    mapping = model_admin.get_object(request, object_id)
    if mapping is None or not model_admin.has_view_permission(request, mapping):
        raise PermissionDenied
    mapping_connection_report(model_admin, request, mapping)
    return redirect("admin:ivr_ivrmapping_change", mapping.pk)


def mapping_connection_report(model_admin, request, mapping) -> None:
    checks = (
        dixa_queue_check(mapping.dixa_api_token, mapping.queue_id, load=dixa.list_queues),
        npstoday_campaign_check(
            mapping.account.npstoday_api_key, mapping.campaign_id, load=npstoday.list_campaigns
        ),
    )
    for check in checks:
        level = messages.SUCCESS if check.ok else messages.ERROR
        model_admin.message_user(request, f"{mapping}: {check.message}", level)
