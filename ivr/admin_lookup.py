"""The customer lookup page of the admin (its data: ivr/lookup.py)."""

from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from integrations.models import InboundEvent
from ivr.lookup import MAX_CLOSES, customer_lookup


def customer_lookup_view(model_admin, request):
    """GET ?q=…: the decision chain of each close of the customer (or conversation)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    term = request.GET.get("q", "")[:254]
    result = customer_lookup(user=request.user, term=term) if term.strip() else None
    try:
        events_admin = model_admin.admin_site.get_model_admin(InboundEvent)
    except NotRegistered:
        events_admin = None
    context = {
        **model_admin.admin_site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": "Customer lookup",
        "opts": model_admin.model._meta,
        "term": term,
        "result": result,
        "max_closes": MAX_CLOSES,
        "can_see_events": bool(events_admin and events_admin.has_view_permission(request)),
    }
    return TemplateResponse(request, "admin/ivr/customer_lookup.html", context)
