"""The mapping form. It calls no outside API while it is built: the queue and campaign
pickers are filled on request ("Load queues", "Load campaigns": ivr/admin_options.py), and the
save checks the queue against Dixa and the campaign against nps.today through cached
selectors. A queue Dixa does not know, a token Dixa refuses or a campaign the key cannot see
stops the save; an API that does not answer stops it too unless "Save anyway" is ticked.
A failed save shows everything as typed, the token included."""

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.admin.forms import SecretFieldsForm
from integrations.fields import validate_header_value
from ivr import selectors
from ivr.models import CHANNELS, IvrMapping
from ivr.services.mapping_checks import dixa_queue_check, npstoday_campaign_check

# What the two checks read; a change to any of them checks again.
CHECKED_FIELDS = ("account_id", "dixa_api_token", "queue_id", "campaign_id")


def _tags_to_text(tags) -> str:
    return ", ".join(tags or [])


class TagsField(forms.CharField):
    def prepare_value(self, value):
        return _tags_to_text(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [t.strip() for t in (value or "").split(",") if t.strip()]

    def run_validators(self, value):
        # Each tag, not the list: CharField's validators (no NUL, which jsonb cannot hold)
        # would otherwise check the list's repr, where a NUL is spelled "\x00".
        for tag in value:
            super().run_validators(tag)


class PickerInput(forms.TextInput):
    """A text input with a "Load …" button and a list the script fills (mapping_pickers.js)."""

    template_name = "ivr/widgets/picker.html"

    class Media:
        js = ("ivr/mapping_pickers.js",)
        css = {"all": ("ivr/mapping_pickers.css",)}

    def __init__(self, *, kind: str, label: str, attrs=None):
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})})
        self.kind, self.label = kind, label
        self.stored = ("", "")  # the stored (id, name), shown beside the id while it is the one

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        url = reverse("admin:ivr_ivrmapping_options", args=[self.kind])
        stored_id, stored_name = self.stored
        shown = stored_name if stored_id and str(value or "") == stored_id else ""
        context["widget"].update(
            kind=self.kind,
            load_label=self.label,
            options_url=url,
            stored_id=stored_id,
            stored_name=shown,
        )
        return context


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
    save_anyway = forms.BooleanField(
        required=False,
        label="Save anyway",
        help_text="Dixa or nps.today could not be reached to check the queue or campaign: "
        "save without the check (the names are filled in at the next save).",
        widget=forms.HiddenInput,  # shown only when a check could not be made
    )

    class Meta:
        model = IvrMapping
        fields = "__all__"
        widgets = {
            "queue_id": PickerInput(kind="queues", label="Load queues"),
            "campaign_id": PickerInput(kind="campaigns", label="Load campaigns"),
        }
        help_texts = {
            "queue_id": "Type the token above, then “Load queues” to choose from Dixa's queues "
            "(or type the queue's id).",
            "campaign_id": "“Load campaigns” lists the campaigns the account's nps.today key "
            "can see (or type the campaign's id).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        mapping = self.instance
        if mapping.pk and "queue_id" in self.fields:
            # "Load queues" may use the stored token when none is typed.
            queue = self.fields["queue_id"]
            queue.widget.attrs["data-mapping"] = mapping.pk
            queue.widget.stored = (mapping.queue_id, mapping.queue_name)
            if mapping.dixa_api_token:
                queue.help_text = (
                    "“Load queues” lists Dixa's queues for the stored token (or for a new "
                    "one typed above), or type the queue's id."
                )
        if mapping.pk and "campaign_id" in self.fields:
            campaign = self.fields["campaign_id"]
            campaign.widget.stored = (str(mapping.campaign_id), mapping.campaign_name)

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self._checked_fields_changed(cleaned):
            return cleaned
        account = cleaned.get("account")
        try:
            validate_header_value(cleaned.get("dixa_api_token", ""))
        except ValidationError:
            return cleaned  # the model's validation says why; Dixa is not asked
        checks = {
            "queue_id": dixa_queue_check(
                cleaned.get("dixa_api_token", ""),
                cleaned.get("queue_id", ""),
                load=selectors.dixa_queues,
            ),
            "campaign_id": npstoday_campaign_check(
                getattr(account, "npstoday_api_key", ""),
                cleaned.get("campaign_id"),
                load=selectors.npstoday_campaigns,
            ),
        }
        unchecked = []
        for field, check in checks.items():
            if check.ok:
                name_field = "queue_name" if field == "queue_id" else "campaign_name"
                setattr(self.instance, name_field, check.name)
            elif check.refused:  # the key lives on the account: the error goes by its campaign
                self.add_error("dixa_api_token" if field == "queue_id" else field, check.message)
            elif check.unknown:
                self.add_error(field, check.message)
            else:
                unchecked.append(check.message)
        if unchecked and not cleaned.get("save_anyway"):
            self.fields["save_anyway"].widget = forms.CheckboxInput()
            self.add_error(
                "save_anyway",
                " ".join(unchecked) + " Tick “Save anyway” to save without the check.",
            )
        return cleaned

    def _checked_fields_changed(self, cleaned) -> bool:
        """A new mapping, or one whose account, token, queue or campaign differ from the
        stored ones (a blank token keeps the stored one: no change)."""
        if not self.instance.pk:
            return True
        stored = type(self.instance).objects.filter(pk=self.instance.pk).values(*CHECKED_FIELDS)
        before = stored.first() or {}
        after = {
            "account_id": getattr(cleaned.get("account"), "pk", None),
            "dixa_api_token": cleaned.get("dixa_api_token", ""),
            "queue_id": cleaned.get("queue_id"),
            "campaign_id": cleaned.get("campaign_id"),
        }
        return any(before.get(name) != value for name, value in after.items())


class ResendSinceForm(forms.Form):
    """The moment of "Resend dead letters since…", typed or picked (the admin's calendar and
    clock); read in UTC, the site's time zone."""

    since = forms.SplitDateTimeField(
        label="Failed since",
        widget=AdminSplitDateTime,
        help_text="Date as YYYY-MM-DD, time as HH:MM on a 24-hour clock (UTC): the dead "
        "letters that failed at or after it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        date, time = self.fields["since"].widget.widgets
        date.attrs["placeholder"] = "YYYY-MM-DD"
        time.attrs["placeholder"] = "HH:MM"
