"""The card's setup page: every field of Dixa's custom-card form ready to copy, the card's
key issued from the page (shown once), and a Test like Dixa's (our JSON, and the card
rendered from it as Dixa renders it, in a sandboxed iframe)."""

import json
import logging
from datetime import datetime, timedelta

from csp.decorators import csp_update
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from integrations import crypto
from integrations.admin.scoping import AccountScopedAdmin
from integrations.public_url import public_url
from pgap.api.card import CardInputSerializer
from pgap.models import CardSetup
from pgap.services.card import card_answer, card_body_text, card_key_issue
from pgap.services.card_render import (
    TEMPLATES,
    card_preview_policy,
    card_render,
    card_template,
)

logger = logging.getLogger(__name__)
# How long after it is issued the card key's page may still show it.
KEY_SHOWN_WITHIN = timedelta(minutes=2)


class CardTestForm(forms.Form):
    customer_email = forms.CharField(required=False, max_length=254, label="Customer email")
    customer_phone_number = forms.CharField(required=False, max_length=40, label="Customer phone")
    employeeEmail = forms.CharField(  # noqa: N815  (the card's own name)
        required=False, max_length=254, label="Assigned agent's email"
    )
    template = forms.ChoiceField(
        choices=[(name, label) for name, (label, _) in TEMPLATES.items()], initial="relay"
    )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("customer_email") or cleaned.get("customer_phone_number")):
            raise forms.ValidationError("Type a customer email or phone number, as in Dixa.")
        return cleaned


def dixa_form(setup: CardSetup, hook_url: str) -> list[dict]:
    """Dixa's custom-card form, field by field, as the admin fills it in."""
    personal_note = (
        "nps.today's personal page shows the assigned agent's responses."
        if setup.personal_page
        else "The personal page is off for this account: employeeEmail is dropped even if "
        "the body sends it. Use the body without it."
    )
    return [
        {"id": "title", "label": "Title", "value": setup.title},
        {"id": "method", "label": "Method", "value": "POST"},
        {"id": "hook-url", "label": "Hook URL", "value": hook_url},
        {"id": "auth-method", "label": "Authentication method", "value": "Authorization header"},
        {"id": "auth-header", "label": "Authorization header", "value": "Basic"},
        {"id": "username", "label": "Username", "value": "ApiKey"},
        {
            "id": "password",
            "label": "Password",
            "value": "",
            "note": "The card key: issue one below (it is shown once). Not your nps.today key, "
            "which stays here.",
        },
        {
            "id": "template-relay",
            "label": "Template content (ours)",
            "value": card_template("relay"),
            "multiline": True,
            "note": "The customer's surveys and answers, the agent's P-GAP, then nps.today's "
            "Feedback App.",
        },
        {
            "id": "template-npstoday",
            "label": "Template content (nps.today's)",
            "value": card_template("npstoday"),
            "multiline": True,
            "note": "Or nps.today's template unchanged: the Feedback App only.",
        },
        {"id": "content-type", "label": "Body: content type", "value": "application/json"},
        {
            "id": "body-personal",
            "label": "Body (personal page)",
            "value": card_body_text(personal_page=True),
            "multiline": True,
            "note": personal_note,
        },
        {
            "id": "body-no-personal",
            "label": "Body (no personal page)",
            "value": card_body_text(personal_page=False),
            "multiline": True,
            "note": "{{agent_email}} is the agent assigned to the conversation, not the one "
            "looking at it: without it no agent's responses or P-GAP are shown.",
        },
    ]


@admin.register(CardSetup)
class CardSetupAdmin(AccountScopedAdmin):
    list_display = ("account", "title", "personal_page", "history_size", "card_key")
    list_select_related = ("account", "api_key")
    fields = ("account", "title", "personal_page", "history_size")
    change_form_template = "pgap/card/admin/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly + ("account",) if obj else readonly

    @admin.display(description="card key")
    def card_key(self, obj):
        if obj.api_key is None:
            return "none issued"
        state = "revoked" if obj.api_key.revoked_at else "active"
        return f"{obj.api_key.prefix}… ({state})"

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/issue-key/",
                view(self.issue_key_view),
                name=f"{info}_issue_key",
            ),
            path("<path:object_id>/test/", view(self.test_view), name=f"{info}_test"),
            *super().get_urls(),
        ]

    def _setup(self, request, object_id) -> CardSetup:
        setup = self.get_object(request, object_id)  # scoped to the user's accounts
        if setup is None:
            raise Http404("no such card setup")
        return setup

    def change_view(self, request, object_id, form_url="", extra_context=None):
        setup = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if setup is not None:
            extra.update(
                dixa_form=dixa_form(setup, public_url(reverse("dixa-card"), request)),
                card_key=setup.api_key,
                can_issue_key=self._can_issue_key(request, setup),
                issue_key_url=reverse("admin:pgap_cardsetup_issue_key", args=[setup.pk]),
                test_url=reverse("admin:pgap_cardsetup_test", args=[setup.pk]),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _can_issue_key(self, request, setup) -> bool:
        # A card key is an API key of the account (it would also open the relay).
        return self.has_change_permission(request, setup) and request.user.has_perm(
            "integrations.add_apikey"
        )

    def issue_key_view(self, request, object_id):
        """Post/Redirect/Get: the POST issues the key and redirects here; the GET shows it
        once, popped from the session, so a reload neither issues another nor shows it again."""
        setup = self._setup(request, object_id)
        change_url = reverse("admin:pgap_cardsetup_change", args=[setup.pk])
        to_show = f"pgap.card_key.{setup.pk}"
        if request.method == "POST":
            if not self._can_issue_key(request, setup):
                raise PermissionDenied
            issued = card_key_issue(setup=setup)
            self.log_change(request, setup, f"Issued the card key {issued.api_key.prefix}…")
            logger.info(
                "card key %s… issued for account %s by %s",
                issued.api_key.prefix,
                setup.account_id,
                request.user.get_username(),
            )
            # Kept for the one page that shows it: encrypted (the session is a database row),
            # and good for KEY_SHOWN_WITHIN only, should that page never be asked for.
            request.session[to_show] = {
                "key": crypto.encrypt(issued.plaintext),
                "issued_at": issued.api_key.created_at.isoformat(),
            }
            return HttpResponseRedirect(reverse("admin:pgap_cardsetup_issue_key", args=[setup.pk]))
        key = request.session.pop(to_show, None)
        issued_at = datetime.fromisoformat(key["issued_at"]) if key else None
        if key is None or timezone.now() - issued_at > KEY_SHOWN_WITHIN:
            # reloaded, back to the key page, or too late: it was shown once (or never will be)
            self.message_user(
                request,
                "A card key is shown once, when it is issued; issue another to see a new one.",
                messages.INFO,
            )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": setup,
            "title": f"Card key for {setup.account}",
            "plaintext": crypto.decrypt(key["key"]),
            "issued_at": issued_at,
            "change_url": change_url,
        }
        return TemplateResponse(request, "pgap/card/admin/key_issued.html", context)

    def test_view(self, request, object_id):
        # The preview needs more than the admin's policy (card_preview_policy), read from the
        # settings when asked.
        return csp_update(card_preview_policy())(self._test_view)(request, object_id)

    def _test_view(self, request, object_id):
        setup = self._setup(request, object_id)
        if not self.has_view_or_change_permission(request, setup):
            raise PermissionDenied
        form = CardTestForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": setup,
            "title": f"Test the card of {setup.account}",
            "form": form,
            "change_url": reverse("admin:pgap_cardsetup_change", args=[setup.pk]),
        }
        if request.method == "POST" and form.is_valid():
            context.update(self._test_result(setup, form.cleaned_data))
        return TemplateResponse(request, "pgap/card/admin/test.html", context)

    def _test_result(self, setup: CardSetup, typed: dict) -> dict:
        """What Dixa's Test shows: the JSON our endpoint answers for this body, and the card
        rendered from it with the chosen template."""
        body = {k: typed[k] for k in ("customer_email", "customer_phone_number")}
        if typed.get("employeeEmail"):
            body = {"employeeEmail": typed["employeeEmail"], **body}
        serializer = CardInputSerializer(data=body)
        if not serializer.is_valid():
            return {"body_errors": serializer.errors}
        answer = card_answer(account=setup.account, request=serializer.card_request())
        return {
            "answer_json": json.dumps(answer, indent=2, ensure_ascii=False),
            "rendered": card_render(template=card_template(typed["template"]), answer=answer),
            "sent_body": json.dumps(body, indent=2, ensure_ascii=False),
        }
