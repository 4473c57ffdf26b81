import factory
from django.utils import timezone

from pgap.models import (
    AgentPrediction,
    CoachingPeriod,
    PgapPair,
    PgapSetup,
    ResponseHook,
    SurveyResponse,
)
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory


class PgapSetupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PgapSetup
        django_get_or_create = ("account",)

    account = factory.SubFactory(AccountFactory, npstoday_api_key="nps-test-key")
    dixa_api_token = "dixa-test-token"


class AgentPredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentPrediction

    mapping = factory.SubFactory(IvrMappingFactory)
    account = factory.SelfAttribute("mapping.account")
    csid = factory.Sequence(lambda n: 300_000 + n)
    queue_id = factory.SelfAttribute("mapping.queue_id")
    agent_id = "81f05b32-e002-4af1-9c8d-59e3d243babd"
    agent_email = "karla@corp.example"
    agent_name = "Karla"
    score = 7
    status = AgentPrediction.Status.CAPTURED
    source = AgentPrediction.Source.EVENT
    closed_at = factory.LazyFunction(timezone.now)
    captured_at = factory.LazyFunction(timezone.now)


class SurveyResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyResponse

    account = factory.SubFactory(AccountFactory)
    response_id = factory.Sequence(lambda n: f"resp-{n}")
    campaign_id = 7232
    rating = 9
    rating_time = factory.LazyFunction(timezone.now)
    payload = factory.LazyAttribute(lambda r: {"Id": r.response_id, "Rating": r.rating})


class PgapPairFactory(factory.django.DjangoModelFactory):
    """A prediction, a response and their pair, consistent with one another."""

    class Meta:
        model = PgapPair

    prediction = factory.SubFactory(AgentPredictionFactory)
    account = factory.SelfAttribute("prediction.account")
    csid = factory.SelfAttribute("prediction.csid")
    response = factory.SubFactory(
        SurveyResponseFactory,
        account=factory.SelfAttribute("..prediction.account"),
        csid=factory.SelfAttribute("..prediction.csid"),
    )
    mapping = factory.SelfAttribute("prediction.mapping")
    queue_id = factory.SelfAttribute("prediction.queue_id")
    agent_email = factory.SelfAttribute("prediction.agent_email")
    agent_name = factory.SelfAttribute("prediction.agent_name")
    agent_score = factory.SelfAttribute("prediction.score")
    customer_score = factory.SelfAttribute("response.rating")
    gap = factory.LazyAttribute(lambda p: p.agent_score - p.customer_score)
    answered_at = factory.SelfAttribute("response.rating_time")


class ResponseHookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResponseHook

    account = factory.SubFactory(AccountFactory)
    prefix = factory.Sequence(lambda n: f"prh_{n:08d}")
    secret_hash = "0" * 64


class CoachingPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoachingPeriod

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Coaching {n}")
    starts_on = factory.LazyFunction(lambda: timezone.localdate())
    ends_on = factory.LazyFunction(lambda: timezone.localdate())
