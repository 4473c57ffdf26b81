"""The mapping form: campaigns and queues are offered from the APIs themselves, so nobody
copies ids by hand; when an API cannot be reached the form says so and takes a typed id."""

from django import forms
from django.core.exceptions import ValidationError

from integrations.admin.forms import SecretFieldsForm
from integrations.admin.scoping import visible_accounts
from integrations.clients import dixa, npstoday
from integrations.clients.http import ApiUnavailable
from ivr.models import CHANNELS, IvrMapping


def _tags_to_text(tags) -> str:
    return ", ".join(tags or [])


class TagsField(forms.CharField):
    def prepare_value(self, value):
        return _tags_to_text(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [t.strip() for t in (value or "").split(",") if t.strip()]


class IvrMappingForm(SecretFieldsForm):
    secret_fields = ("dixa_api_token",)
    channels = forms.MultipleChoiceField(
        choices=CHANNELS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Survey only these channels; none ticked: all channels.",
    )
    excluded_tags = TagsField(
        required=False, help_text="Comma-separated tag names; a conversation with any is skipped."
    )

    class Meta:
        model = IvrMapping
        fields = "__all__"

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_notes: list[str] = []
        self.campaign_names: dict[int, str] = {}
        self.campaigns_by_account: dict[int, set[int]] = {}
        self.queue_names: dict[str, str] = {}
        # A view-only page (an operator's) has no fields to offer choices for.
        if user is not None and "campaign_id" in self.fields:
            self._offer_campaigns(user)
        if "queue_id" in self.fields:
            self._offer_queues()

    def _offer_campaigns(self, user) -> None:
        groups = []
        for account in visible_accounts(user):
            if not account.npstoday_api_key:
                continue
            try:
                campaigns = npstoday.list_campaigns(account.npstoday_api_key)
            except ApiUnavailable as exc:
                self.api_notes.append(f"nps.today ({account.name}): {exc}")
                continue
            self.campaign_names.update({c.id: c.name for c in campaigns})
            self.campaigns_by_account[account.pk] = {c.id for c in campaigns}
            groups.append((account.name, [(c.id, f"{c.id} · {c.name}") for c in campaigns]))
        current = self.initial.get("campaign_id")
        if groups:
            if current and int(current) not in self.campaign_names:
                groups.insert(0, ("Current", [(current, f"{current} (not offered by nps.today)")]))
            self.fields["campaign_id"] = forms.TypedChoiceField(
                label="nps.today campaign", coerce=int, choices=[("", "---------"), *groups]
            )
        else:
            self.fields["campaign_id"].help_text = (
                "Type the campaign id: nps.today's campaign list could not be loaded"
                + (
                    f" ({'; '.join(self.api_notes)})."
                    if self.api_notes
                    else " (set the account's nps.today API key to choose from a list)."
                )
            )

    def _offer_queues(self) -> None:
        token = getattr(self.instance, "dixa_api_token", "") if self.instance.pk else ""
        if not token:
            self.fields["queue_id"].help_text = (
                "Type the queue id from Dixa (Settings → Queues), or save the mapping with its "
                "Dixa API token to choose from Dixa's queues."
            )
            return
        try:
            queues = dixa.list_queues(token)
        except ApiUnavailable as exc:
            self.api_notes.append(f"Dixa: {exc}")
            self.fields[
                "queue_id"
            ].help_text = f"Type the queue id: Dixa could not be reached ({exc})."
            return
        self.queue_names = {q.id: q.name for q in queues}
        choices = [(q.id, f"{q.name} · {q.id}") for q in queues]
        current = self.initial.get("queue_id")
        if current and current not in self.queue_names:
            choices.insert(0, (current, f"{current} (not offered by Dixa)"))
        self.fields["queue_id"] = forms.ChoiceField(
            label="Dixa queue", choices=[("", "---------"), *choices]
        )

    def clean(self):
        cleaned = super().clean()
        account, campaign = cleaned.get("account"), cleaned.get("campaign_id")
        offered = self.campaigns_by_account.get(getattr(account, "pk", None))
        if offered is not None and campaign and campaign not in offered:
            raise ValidationError(
                {"campaign_id": f"campaign {campaign} is not in {account}'s nps.today"}
            )
        return cleaned
