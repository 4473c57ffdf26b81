import factory

from integrations.dixa import samples
from integrations.dixa.catalogue import to_fqn
from integrations.models import Account, InboundEvent, InboundEventBody, SigningSecret


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")


class SigningSecretFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SigningSecret

    account = factory.SubFactory(AccountFactory)
    secret = factory.Faker("hexify", text="^" * 64)
    label = "dixa"


def _sample_body(body) -> bytes:
    """A Dixa body of the event's own type and id."""
    event = body.event
    document = samples.event(event.event_type if event.is_known_type else "ConversationCreated")
    document.update(event_id=event.event_id, event_fqn=event.event_fqn)
    return samples.encode(document)


class InboundEventBodyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundEventBody

    raw_body = factory.LazyAttribute(_sample_body)
    headers = factory.LazyFunction(dict)


class InboundEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundEvent
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    event_id = factory.Faker("uuid4")
    event_type = "ConversationCreated"
    event_fqn = factory.LazyAttribute(lambda e: to_fqn(e.event_type))
    verification = InboundEvent.Verification.VERIFIED
    body = factory.RelatedFactory(InboundEventBodyFactory, factory_related_name="event")
