"""A record's page offers the list's actions that would change it, as buttons."""

from urllib.parse import urlencode

from django.contrib.admin.utils import unquote
from django.urls import reverse


class ObjectActions:
    """Each button posts to the list, filtered to this one row and with the row ticked, so the
    action asks first, runs and is audited exactly as from the list, and the list it comes
    back to shows the row in its new state. Only actions that ask first (confirm_first) are
    offered, and only those that would change the row."""

    change_form_template = "admin/relay_object_actions_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            extra_context = {
                "object_actions": self.object_actions(request, unquote(object_id)),
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def object_actions(self, request, object_id) -> list[dict]:
        row = self.get_queryset(request).filter(pk=object_id)
        pk = row.values_list("pk", flat=True).first()
        if pk is None:
            return []
        changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        url = f"{changelist}?{urlencode({f'{self.opts.pk.attname}__exact': pk})}"
        buttons = []
        for name, (func, _, _) in self.get_actions(request).items():
            label = getattr(func, "button_label", None)
            if label is None:  # acts without asking first: from the list only
                continue
            eligible = func.eligible
            if eligible is not None and not eligible(row).exists():
                continue
            buttons.append({"name": name, "label": label, "url": url, "pk": pk})
        return buttons
