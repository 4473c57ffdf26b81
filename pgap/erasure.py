"""pgap's part of an erasure (integrations/erasure): the customers' answers. The score stays
(P-GAP pairs and their charts need it); the comment, the respondent's email and id, and the
webhook body as nps.today sent it go. Agents' predictions and pairs hold no customer data."""

from django.db.models import Q

from integrations.erasure import registry
from integrations.erasure.models import Erasure
from pgap.models import SurveyResponse


def _responses(subject, accounts, csids):
    if subject.kind == Erasure.Kind.EMAIL:
        match = Q(respondent_email=subject.value)
    elif subject.kind == Erasure.Kind.REQUESTER:
        match = Q(respondent_external_id=subject.value)
    else:
        match = Q(pk__in=[])
    if csids:
        match |= Q(csid__in=csids)
    return SurveyResponse.objects.filter(account__in=accounts).filter(match)


def find(subject, accounts) -> set[int]:
    found = _responses(subject, accounts, set()).exclude(csid=None)
    return set(found.values_list("csid", flat=True))


def erase_responses(subject, accounts, csids, dry_run) -> int:
    responses = _responses(subject, accounts, csids)
    count = responses.count()
    if not dry_run and count:
        responses.update(
            comment="", respondent_email="", respondent_external_id="", payload={"erased": True}
        )
    return count


def register() -> None:
    registry.register("survey responses", erase_responses, find=find)
