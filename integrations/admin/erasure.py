"""Erasure in the admin: a page to erase a person's data (a dry run first, then the real
one), and the read-only list of erasures done."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from integrations.admin.events import RecordAdmin
from integrations.admin.scoping import visible_accounts
from integrations.erasure.models import Erasure
from integrations.erasure.previews import erasure_preview_mismatch, erasure_preview_token
from integrations.erasure.services import personal_data_erase, subject_for


class ErasureForm(forms.Form):
    kind = forms.ChoiceField(label="Find the person by", choices=Erasure.Kind.choices)
    value = forms.CharField(label="Value", max_length=254)
    accounts = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, help_text="Where to erase."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].queryset = visible_accounts(user).order_by("name")

    def clean(self):
        data = super().clean()
        if "kind" in data and "value" in data:
            try:
                data["subject"] = subject_for(data["kind"], data["value"])
            except ValidationError as exc:
                self.add_error("value", exc)
        return data


@admin.register(Erasure)
class ErasureAdmin(RecordAdmin):
    list_display = ("at", "account", "kind", "dry_run", "conversations", "rows", "actor_label")
    list_filter = ("dry_run", "kind")
    fields = (
        "at",
        "account",
        "actor_label",
        "kind",
        "fingerprint",
        "dry_run",
        "conversations",
        "counts",
    )
    readonly_fields = fields
    change_list_template = "admin/integrations/erasure/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.erase_view)
        return [path("erase/", view, name="integrations_erasure_erase"), *super().get_urls()]

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("integrations.add_erasure")

    def changelist_view(self, request, extra_context=None):
        extra = {"may_erase": self.has_erase_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def _dry_run_matches(self, request, subject, accounts) -> bool:
        """Whether the erase posted is of exactly what the page's dry run showed (the form can
        be edited after it); says why not, and the view then shows a dry run instead."""
        mismatch = erasure_preview_mismatch(
            token=request.POST.get("preview_token", ""),
            subject=subject,
            accounts=accounts,
            user=request.user,
        )
        if mismatch:
            messages.warning(
                request,
                f"Nothing was erased: {mismatch}. Below is a dry run of these values; "
                "erase from there.",
            )
        return mismatch is None

    def erase_view(self, request):
        if not self.has_erase_permission(request):
            raise PermissionDenied
        form = ErasureForm(request.POST or None, user=request.user)
        preview = preview_token = None
        if request.method == "POST" and form.is_valid():
            subject, accounts = form.cleaned_data["subject"], form.cleaned_data["accounts"]
            confirmed = "erase" in request.POST and self._dry_run_matches(
                request, subject, accounts
            )
            records = personal_data_erase(
                subject=subject, accounts=accounts, actor=request.user, dry_run=not confirmed
            )
            if confirmed:
                rows = sum(record.rows for record in records)
                messages.success(
                    request,
                    f"Erased: {rows} row(s) changed in {len(records)} account(s)."
                    if rows
                    else "No data of this person was found; nothing changed.",
                )
                return redirect(reverse("admin:integrations_erasure_changelist"))
            preview = records
            preview_token = erasure_preview_token(
                subject=subject, accounts=accounts, user=request.user
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Erase a person's data",
            "form": form,
            "preview": preview,
            "preview_token": preview_token,
            "preview_rows": sum(record.rows for record in preview or []),
        }
        return TemplateResponse(request, "admin/integrations/erasure/erase.html", context)
