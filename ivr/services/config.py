"""The `ivr_mappings` section of `apply_config`: mappings matched by name within the account.

ivr_mappings:
  - name: Support DK
    campaign_id: 7232
    queue_id: 986359e5-e201-48ab-84af-c7799e03e58c
    dixa_api_token: "..."        # stored encrypted; printable ASCII, surrounding spaces dropped
    enabled: true
    channels: [EMAIL, WIDGET_CHAT]
    excluded_tags: [spam]
    delay_minutes: 1440
    quarantine_days: 30
    once_per_conversation: true
    sample_percent: 100
"""

from django.core.exceptions import ValidationError

from integrations.audit.services import audit_record
from integrations.fields import validate_header_value
from integrations.models import Account
from integrations.services.config import (
    ConfigError,
    assign_changed,
    strip_secrets,
    validated_save,
)
from integrations.services.dixa_sync import subscription_sync_request
from ivr import selectors
from ivr.models import IvrMapping, NpsTodayDelivery
from ivr.services.mapping_checks import dixa_queue_check, npstoday_campaign_check

FIELDS = (
    "campaign_id",
    "queue_id",
    "dixa_api_token",
    "enabled",
    "channels",
    "excluded_tags",
    "delay_minutes",
    "quarantine_days",
    "once_per_conversation",
    "sample_percent",
)


def ivr_mappings_apply(account: Account, specs) -> bool:
    if not isinstance(specs, list):
        raise ValueError("must be a list of mappings")
    changed = False
    for spec in specs:
        if not isinstance(spec, dict) or not spec.get("name"):
            raise ValueError("every mapping needs a name")
        unknown = set(spec) - {"name", *FIELDS}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        spec = strip_secrets(spec, ("dixa_api_token",))
        mapping = IvrMapping.objects.filter(account=account, name=spec["name"]).first()
        if mapping is None:
            mapping = IvrMapping(account=account, name=spec["name"])
        before = (mapping.queue_id, mapping.campaign_id, mapping.dixa_api_token)
        if assign_changed(mapping, spec, FIELDS) or mapping.pk is None:
            created = mapping.pk is None
            if mapping.pk is None or before != (
                mapping.queue_id,
                mapping.campaign_id,
                mapping.dixa_api_token,
            ):
                _names_lookup(mapping)
            try:
                validated_save(mapping)
            except ConfigError as exc:
                raise ConfigError(f"{spec['name']}: {exc}") from exc
            changed = True
            audit_record(
                actor="apply_config",
                action=f"IVR mapping {'add' if created else 'change'}",
                objects=[mapping],
                summary=f"{mapping}: set from the config file",
                result="saved",
            )
    if changed:
        subscription_sync_request(account_id=account.pk)
    return changed


# Account-level keys of the config file that set the account's delivery to nps.today.
DELIVERY_KEYS = {"npstoday_max_attempts": "max_attempts", "npstoday_retry_seconds": "retry_seconds"}


def delivery_policy_apply(key: str):
    field = DELIVERY_KEYS[key]

    def apply(account: Account, value) -> bool:
        policy, created = NpsTodayDelivery.objects.get_or_create(account=account)
        if not created and getattr(policy, field) == value:
            return False
        setattr(policy, field, value)
        validated_save(policy)
        return True

    return apply


def _names_lookup(mapping: IvrMapping) -> None:
    """The queue's and campaign's names, as the admin's form stores them; left blank when Dixa
    or nps.today cannot tell (the file is applied all the same)."""
    mapping.queue_name = ""
    if mapping.dixa_api_token:
        try:
            validate_header_value(mapping.dixa_api_token)
        except ValidationError:
            pass  # validated_save says why
        else:
            queue = dixa_queue_check(
                mapping.dixa_api_token, mapping.queue_id, load=selectors.dixa_queues
            )
            mapping.queue_name = queue.name
    campaign = npstoday_campaign_check(
        mapping.account.npstoday_api_key, mapping.campaign_id, load=selectors.npstoday_campaigns
    )
    mapping.campaign_name = campaign.name
