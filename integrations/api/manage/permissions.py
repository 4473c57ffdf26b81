"""Who may do what: the admin's rules. Active staff only; reading a model needs its view (or
change) permission, an action on records its change permission, and mapping writes add,
change or delete. Which rows is the queryset's business (scoped to the user's accounts)."""

from django.contrib.auth import get_permission_codename
from rest_framework.permissions import BasePermission

READS = {"list", "retrieve", "metadata", None}
WRITES = {"create": "add", "update": "change", "partial_update": "change", "destroy": "delete"}


def may(user, action: str, model) -> bool:
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")


class StaffModelPermission(BasePermission):
    """Reads need view or change; writes their own; any other action (reprocess, resend,
    cancel) needs change, as the admin's actions do. Views name the model by `queryset`
    or `permission_model`."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        model = getattr(view, "permission_model", None) or view.get_queryset().model
        action = getattr(view, "action", None)
        if action in READS:
            return may(user, "view", model) or may(user, "change", model)
        return may(user, WRITES.get(action, "change"), model)
