"""Reads of the P-GAP app."""


def dixa_event_types(account) -> list[str]:
    """The agent's score arrives as an attribute update while P-GAP is on."""
    from pgap.models import PgapSetup

    if PgapSetup.objects.filter(account=account, enabled=True).exists():
        return ["ConversationCustomAttributeUpdated"]
    return []
