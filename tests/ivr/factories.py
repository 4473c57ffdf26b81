import uuid

import factory
from django.utils import timezone

from ivr.member import campaign_member
from ivr.models import DeliveryAttempt, IvrMapping, NpsTodayDelivery, SurveyTrigger
from tests.integrations.factories import AccountFactory

QUEUE_ID = "986359e5-e201-48ab-84af-c7799e03e58c"


class IvrMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IvrMapping

    account = factory.SubFactory(AccountFactory, npstoday_api_key="nps-test-key")
    name = factory.Sequence(lambda n: f"Mapping {n}")
    campaign_id = 7232
    queue_id = QUEUE_ID
    dixa_api_token = "dixa-test-token"


class NpsTodayDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NpsTodayDelivery
        django_get_or_create = ("account",)

    account = factory.SubFactory(AccountFactory, npstoday_api_key="nps-test-key")


def _member(trigger) -> dict:
    from tests.ivr.helpers import conversation

    return campaign_member(conversation(csid=trigger.csid), guid=str(trigger.guid))


class SurveyTriggerFactory(factory.django.DjangoModelFactory):
    """A survey due now, as the relay makes it from REALISTIC_CONVERSATION."""

    class Meta:
        model = SurveyTrigger

    mapping = factory.SubFactory(IvrMappingFactory)
    account = factory.SelfAttribute("mapping.account")
    guid = factory.LazyFunction(uuid.uuid4)
    csid = factory.Sequence(lambda n: 100_000 + n)
    dedupe_key = factory.LazyAttribute(lambda t: f"campaign:{t.campaign_id}:conversation:{t.csid}")
    campaign_id = factory.SelfAttribute("mapping.campaign_id")
    respondent_email = "jane@example.com"
    respondent_phone = "+4520304050"
    payload = factory.LazyAttribute(_member)
    next_attempt_at = factory.LazyFunction(timezone.now)


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    trigger = factory.SubFactory(SurveyTriggerFactory)
    number = 1
    request_url = factory.LazyAttribute(
        lambda a: f"https://nps.test/campaigns/{a.trigger.campaign_id}/respondent"
    )
    request_body = factory.SelfAttribute("trigger.payload")
    outcome = DeliveryAttempt.Outcome.IN_FLIGHT
