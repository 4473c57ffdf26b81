"""ivr's part of an erasure (integrations/erasure): surveys and their tries. The survey stays
(its status, mapping and times count); the respondent in its member body, its email and phone
columns, and nps.today's answers to its tries go."""

from django.db.models import Q

from integrations.erasure import registry
from integrations.erasure.models import Erasure
from integrations.erasure.services import ERASED
from ivr.models import DeliveryAttempt, SurveyTrigger

RESPONDENT_FIELDS = ("firstName", "phoneNumber", "emailAddress", "externalId")


def _named(subject) -> Q:
    if subject.kind == Erasure.Kind.EMAIL:
        return Q(respondent_email=subject.value)
    if subject.kind == Erasure.Kind.PHONE:
        return Q(respondent_phone=subject.value)
    if subject.kind == Erasure.Kind.REQUESTER:
        return Q(payload__respondent__externalId=subject.value)
    return Q(pk__in=[])


def _surveys(subject, accounts, csids):
    match = _named(subject) | (Q(csid__in=csids) if csids else Q(pk__in=[]))
    return SurveyTrigger.objects.filter(account__in=accounts).filter(match)


def find(subject, accounts) -> set[int]:
    return set(_surveys(subject, accounts, set()).exclude(csid=None).values_list("csid", flat=True))


def _without_respondent(body):
    if not isinstance(body, dict) or not isinstance(body.get("respondent"), dict):
        return body
    respondent = {k: ERASED for k in body["respondent"] if k in RESPONDENT_FIELDS}
    return {**body, "respondent": respondent}


def erase_surveys(subject, accounts, csids, dry_run) -> int:
    surveys = list(_surveys(subject, accounts, csids).only("pk", "payload"))
    if not dry_run:
        for survey in surveys:
            survey.payload = _without_respondent(survey.payload)
            survey.respondent_email = survey.respondent_phone = ""
        SurveyTrigger.objects.bulk_update(
            surveys, ["payload", "respondent_email", "respondent_phone"], batch_size=500
        )
    return len(surveys)


def erase_attempts(subject, accounts, csids, dry_run) -> int:
    attempts = list(
        DeliveryAttempt.objects.filter(trigger__in=_surveys(subject, accounts, csids)).only(
            "pk", "request_body"
        )
    )
    if not dry_run:
        for attempt in attempts:
            attempt.request_body = _without_respondent(attempt.request_body)
            attempt.response_body = ""
        DeliveryAttempt.objects.bulk_update(
            attempts, ["request_body", "response_body"], batch_size=500
        )
    return len(attempts)


def register() -> None:
    registry.register("surveys", erase_surveys, find=find)
    registry.register("survey tries", erase_attempts)
