"""The customer's score written back to the conversation in Dixa, so the agent sees it:
PATCH /v1/conversations/{csid}/custom-attributes with {<attribute id>: value}, into the
attribute the admin chose (`PgapSetup.write_back_attribute_id`). A Select takes a list of
option values (`["9"]`), a Text the number as text (`"9"`).

Called through the task `pgap.tasks.write_back_customer_score(pair_id)` once a pair is made.
Errors are raised as `WriteBackRetry` (no answer, 429, 5xx: the task tries again) or
returned as the reason it cannot be written (no setup, 400/401/403/404)."""

import logging
from dataclasses import dataclass

from django.conf import settings

from integrations import ratelimit
from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from ivr.retry_policy import RETRYABLE_4XX
from pgap.models import PgapPair, PgapSetup
from pgap.services.setup import dixa_token

logger = logging.getLogger(__name__)


class WriteBackRetry(Exception):
    """Dixa did not take it this time; worth another try."""

    def __init__(self, message: str, *, retry_after: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class WriteBack:
    written: bool
    detail: str


def customer_score_write_back(*, pair_id: int) -> WriteBack:
    pair = PgapPair.objects.select_related("mapping").filter(pk=pair_id).first()
    if pair is None:
        return WriteBack(False, f"pair {pair_id} no longer exists")
    setup = PgapSetup.objects.filter(account_id=pair.account_id).first()
    if setup is None or not setup.write_back_attribute_id:
        return WriteBack(False, "the account does not write the customer's score back")
    token = dixa_token(setup, pair.mapping)
    if not token:
        return WriteBack(False, "no Dixa API token on the P-GAP setup or the mapping")
    try:
        input_type = setup.write_back_input_type or _input_type_lookup(setup, token)
        value = [str(pair.customer_score)] if input_type == "Select" else str(pair.customer_score)
        _call(
            dixa.patch_custom_attributes, token, pair.csid, {setup.write_back_attribute_id: value}
        )
    except _Refused as exc:
        logger.warning("P-GAP write-back of pair %s refused: %s", pair_id, exc)
        return WriteBack(False, str(exc))
    return WriteBack(True, f"wrote {value!r} to conversation {pair.csid}")


class _Refused(Exception):
    pass


def _call(function, token: str, *args):
    """Dixa's answer; WriteBackRetry when another try may succeed, _Refused when not."""
    ratelimit.wait_for_slot("dixa", token, limit=settings.DIXA_RATE_LIMIT)
    try:
        return function(token, *args)
    except dixa.DixaError as exc:
        if exc.status >= 500 or exc.status in RETRYABLE_4XX:
            raise WriteBackRetry(str(exc), retry_after=exc.retry_after) from exc
        raise _Refused(f"Dixa refused it (HTTP {exc.status})") from exc
    except ApiUnavailable as exc:
        raise WriteBackRetry(str(exc)) from exc


def _input_type_lookup(setup: PgapSetup, token: str) -> str:
    """The write-back attribute's type, read from Dixa once and kept on the setup."""
    definitions = _call(dixa.list_custom_attributes, token)
    wanted = setup.write_back_attribute_id
    definition = next((d for d in definitions if d.get("id") == wanted), None)
    if definition is None:
        raise _Refused(f"Dixa has no custom attribute with id {wanted}")
    input_definition = definition.get("inputDefinition")
    input_type = input_definition.get("_type", "") if isinstance(input_definition, dict) else ""
    PgapSetup.objects.filter(pk=setup.pk).update(write_back_input_type=str(input_type))
    return str(input_type)
