import factory

from ivr.models import IvrMapping
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
