"""Secrets on the pages of users who may only view."""

from functools import partial

from django.contrib import admin

from integrations import crypto
from integrations.fields import EncryptedTextField

MASKED = "_masked"


def _masked(name: str, obj) -> str:
    return crypto.mask(getattr(obj, name, "") or "") or "—"


class MaskedSecrets:
    """Who may only view an object sees its secrets as editors see them under the form's
    field: the last four characters. Django shows a read-only field's value whole, so for
    these users each encrypted field is swapped for a read-only display of its mask."""

    # A secret whose mask the admin already displays (for editors too), by that display's
    # name: shown in its place.
    masked_as: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.masked_fields = {}  # field name -> the name of its masked display
        for field in self.model._meta.concrete_fields:
            if not isinstance(field, EncryptedTextField):
                continue
            name = self.masked_as.get(field.name)
            if name is None:
                name = field.name + MASKED
                display = admin.display(description=field.verbose_name)(
                    partial(_masked, field.name)
                )
                setattr(self, name, display)
            self.masked_fields[field.name] = name

    def masks_secrets(self, request, obj=None) -> bool:
        return bool(self.masked_fields) and not self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if not self.masks_secrets(request, obj):
            return readonly
        return (*readonly, *self.masked_fields.values())

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.masks_secrets(request, obj):
            return fieldsets
        seen: set[str] = set()

        def swapped(names):  # a line may hold several fields, as a tuple
            shown = []
            for name in names:
                if isinstance(name, list | tuple):
                    line = swapped(name)
                    if line:
                        shown.append(tuple(line))
                    continue
                name = self.masked_fields.get(name, name)
                if name not in seen:  # get_fields also lists the read-only ones
                    seen.add(name)
                    shown.append(name)
            return shown

        return [(title, {**opts, "fields": swapped(opts["fields"])}) for title, opts in fieldsets]
