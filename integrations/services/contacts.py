"""The customer's email and phone of a Dixa event, as stored on InboundEvent for the customer
lookup: copied at ingest, and by `backfill_requesters` for events stored before."""

from django.db import transaction

from integrations.dixa.conversation import Person
from integrations.models import InboundEvent, InboundEventBody

EMAIL_LENGTH = InboundEvent._meta.get_field("requester_email").max_length
PHONE_LENGTH = InboundEvent._meta.get_field("requester_phone").max_length


def requester_contacts(data: dict) -> tuple[str, str]:
    """(email lower-cased, phone as sent) of the conversation's requester; "" when absent.
    The survey's respondent is stored the same way, so one search finds both."""
    conversation = data.get("conversation") if isinstance(data, dict) else None
    requester = conversation.get("requester") if isinstance(conversation, dict) else None
    person = Person.from_data(requester) or Person()
    return (person.email or "").lower()[:EMAIL_LENGTH], (person.phone or "")[:PHONE_LENGTH]


def inbound_requesters_backfill(*, batch_size: int = 1000) -> int:
    """Fill requester_email/phone of conversation events stored before those columns existed,
    from their kept bodies, a batch at a time (newest first); the number of events updated.
    Events whose body retention removed are left as they are."""
    from integrations.dixa import envelope as envelope_parser

    updated, last_pk = 0, None
    while True:
        batch = InboundEvent.objects.filter(
            requester_email="", requester_phone="", csid__isnull=False
        ).order_by("-pk")
        if last_pk is not None:
            batch = batch.filter(pk__lt=last_pk)
        pks = list(batch.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return updated
        last_pk = pks[-1]
        changed = []
        for body in InboundEventBody.objects.filter(event_id__in=pks).only("event_id", "raw_body"):
            try:
                data = envelope_parser.parse(bytes(body.raw_body)).data
            except envelope_parser.EnvelopeError:
                continue
            email, phone = requester_contacts(data)
            if email or phone:
                changed.append(
                    InboundEvent(pk=body.event_id, requester_email=email, requester_phone=phone)
                )
        with transaction.atomic():
            InboundEvent.objects.bulk_update(changed, ["requester_email", "requester_phone"])
        updated += len(changed)
