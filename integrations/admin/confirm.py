"""Bulk actions on records say how many rows they will touch before they run: the first click
shows a page with the count (and how many of the selected would be left alone), the second
runs the action. Like Django's own "Delete selected", with the same hidden fields.

Every action runs on its selection pinned by primary key (`pinned`): Django hands an action
the list's queryset, the list's filters included, so an action that changes what a filter
looks at (surveys filtered by "Dead letter", then resent) would empty its own queryset, and
count, report and audit nothing."""

from collections.abc import Callable
from functools import wraps

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.template.response import TemplateResponse

CONFIRMED = "confirmed"
LISTED = 20  # rows named on the page; the rest are counted


def confirm_first(
    verb: str,
    *,
    eligible: Callable[[QuerySet], QuerySet] | None = None,
    detail: str = "",
    note: str = "",
):
    """`verb` names the action on the page ("Resend"), `detail` what follows the count
    ("through the survey handler only"); `eligible` narrows the selection to the rows the
    action will really change (the others are left alone by the service); `note` says what
    the action does to each, when that is more than its name tells."""
    after = f" {detail}" if detail else ""

    def decorator(action):
        @wraps(action)
        def wrapper(modeladmin, request, queryset):
            if request.POST.get(CONFIRMED) == "yes":
                return action(modeladmin, request, pinned(modeladmin, request, queryset))
            selected = queryset.count()
            rows = eligible(queryset) if eligible else queryset
            touched = rows.count() if eligible else selected
            context = {
                **modeladmin.admin_site.each_context(request),
                "title": f"{verb} {touched} of {selected} selected{after}?",
                "opts": modeladmin.opts,
                "button": f"{verb} {touched}{after}",
                "description": getattr(action, "short_description", verb),
                "note": note,
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

        wrapper.selection_pinned = True  # here, once confirmed (the first step only counts)
        # What a button for one row says, and whether the row is one it would change
        # (ObjectActions, on a record's page).
        wrapper.button_label = f"{verb}{after}"
        wrapper.eligible = eligible
        return wrapper

    return decorator


def pinned(model_admin, request, queryset: QuerySet) -> QuerySet:
    """The rows `queryset` holds now, by primary key, taken from the admin's own queryset
    (scoped to the user's accounts) without the list's filters and search: whatever the
    action changes, its queryset still holds the rows that were selected when it ran."""
    pks = list(queryset.order_by().values_list("pk", flat=True))
    return model_admin.get_queryset(request).filter(pk__in=pks)


def _on_pinned(action):
    @wraps(action)
    def wrapper(modeladmin, request, queryset):
        return action(modeladmin, request, pinned(modeladmin, request, queryset))

    wrapper.selection_pinned = True
    return wrapper


class PinnedSelectionMixin:
    """Every action of the admin runs on its selection pinned by primary key: an action that
    asks first (confirm_first) once confirmed, any other one at once."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            name: (
                func if getattr(func, "selection_pinned", False) else _on_pinned(func),
                name,
                description,
            )
            for name, (func, _, description) in actions.items()
        }
