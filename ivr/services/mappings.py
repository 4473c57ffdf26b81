"""IVR mappings written through the management API: validated as the admin and apply_config
validate them (the model's own rules), never deleted while surveys point at them."""

from django.db import transaction

from integrations.models import Account
from ivr.models import IvrMapping


class MappingInUse(Exception):
    """Deleting the mapping would delete its surveys, which are records."""


@transaction.atomic
def ivr_mapping_create(*, account: Account, fields: dict) -> IvrMapping:
    mapping = IvrMapping(account=account, **fields)
    mapping.full_clean()
    mapping.save()
    return mapping


@transaction.atomic
def ivr_mapping_update(*, mapping: IvrMapping, fields: dict) -> IvrMapping:
    """Names looked up from nps.today and Dixa belong to the old ids: a new id drops them
    until the admin's form looks them up again."""
    if "campaign_id" in fields and fields["campaign_id"] != mapping.campaign_id:
        mapping.campaign_name = ""
    if "queue_id" in fields and fields["queue_id"] != mapping.queue_id:
        mapping.queue_name = ""
    for name, value in fields.items():
        setattr(mapping, name, value)
    mapping.full_clean()
    mapping.save()
    return mapping


@transaction.atomic
def ivr_mapping_delete(*, mapping: IvrMapping) -> None:
    surveys = mapping.triggers.count()
    if surveys:
        raise MappingInUse(
            f"{surveys} survey(s) were made by this mapping and would be deleted with it; "
            "disable it instead (enabled: false)."
        )
    mapping.delete()
