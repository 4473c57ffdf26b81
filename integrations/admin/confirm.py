"""Bulk actions on records say how many rows they will touch before they run: the first click
shows a page with the count (and how many of the selected would be left alone), the second
runs the action. Like Django's own "Delete selected", with the same hidden fields."""

from collections.abc import Callable
from functools import wraps

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.template.response import TemplateResponse

CONFIRMED = "confirmed"
LISTED = 20  # rows named on the page; the rest are counted


def confirm_first(
    verb: str, *, eligible: Callable[[QuerySet], QuerySet] | None = None, detail: str = ""
):
    """`verb` names the action on the page ("Resend"), `detail` what follows the count
    ("through the survey handler only"); `eligible` narrows the selection to the rows the
    action will really change (the others are left alone by the service)."""
    after = f" {detail}" if detail else ""

    def decorator(action):
        @wraps(action)
        def wrapper(modeladmin, request, queryset):
            if request.POST.get(CONFIRMED) == "yes":
                return action(modeladmin, request, queryset)
            selected = queryset.count()
            rows = eligible(queryset) if eligible else queryset
            touched = rows.count() if eligible else selected
            context = {
                **modeladmin.admin_site.each_context(request),
                "title": f"{verb} {touched} of {selected} selected{after}?",
                "opts": modeladmin.opts,
                "button": f"{verb} {touched}{after}",
                "description": getattr(action, "short_description", verb),
                "selected": selected,
                "touched": touched,
                "left": selected - touched,
                "listed": list(rows[:LISTED]),
                "unlisted": max(0, touched - LISTED),
                "action": request.POST.get("action", ""),
                "select_across": request.POST.get("select_across", "0"),
                "ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "checkbox_name": ACTION_CHECKBOX_NAME,
                "confirmed_name": CONFIRMED,
            }
            return TemplateResponse(request, "admin/relay_confirm_action.html", context)

        return wrapper

    return decorator
