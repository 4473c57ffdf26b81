"""A record's page offers the list's actions that would change it, as buttons."""

from urllib.parse import urlencode

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse


class ObjectActions:
    """Each button posts to the list, filtered to this one row and with the row ticked, so the
    action asks first, runs and is audited exactly as from the list, and the list it comes
    back to shows the row in its new state. Only actions that ask first (confirm_first) are
    offered, and only those that would change the row."""

    change_form_template = "admin/relay_object_actions_change_form.html"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Here Django has fetched the row (a malformed or unknown id never gets this far).
        if obj is not None and request.method == "GET":
            context["object_actions"] = self.object_actions(request, obj)
            context["action_checkbox_name"] = ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add, change, form_url, obj)

    def object_actions(self, request, obj) -> list[dict]:
        row = self.get_queryset(request).filter(pk=obj.pk)
        changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        url = f"{changelist}?{urlencode({f'{self.opts.pk.attname}__exact': obj.pk})}"
        buttons = []
        for name, (func, _, _) in self.get_actions(request).items():
            label = getattr(func, "button_label", None)
            if label is None:  # acts without asking first: from the list only
                continue
            eligible = func.eligible
            if eligible is not None and not eligible(row).exists():
                continue
            buttons.append({"name": name, "label": label, "url": url, "pk": obj.pk})
        return buttons
