import factory

from integrations.models import Account, InboundEvent, SigningSecret


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


class InboundEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundEvent

    account = factory.SubFactory(AccountFactory)
    event_id = factory.Faker("uuid4")
    event_type = "ConversationCreated"
    event_fqn = "CONVERSATION_CREATED"
    raw_body = b"{}"
    verification = InboundEvent.Verification.VERIFIED
