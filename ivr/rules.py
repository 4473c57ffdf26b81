"""The survey rules of one IVR mapping. Each returns None (go on) or the reason to skip.
Rules that need the database (quarantine, once per conversation) live in the service."""

import hashlib

from integrations.dixa.conversation import Conversation
from ivr.models import IvrMapping


def assigned_agent(mapping: IvrMapping, conversation: Conversation) -> str | None:
    if conversation.assignee is None:
        return "no assigned agent: nps.today requires one to send a survey"
    return None


def reachable_respondent(mapping: IvrMapping, conversation: Conversation) -> str | None:
    if not (conversation.respondent_email or conversation.respondent_phone):
        return "the requester has neither an email address nor a phone number"
    return None


def channel_allowed(mapping: IvrMapping, conversation: Conversation) -> str | None:
    allowed = {c.upper() for c in mapping.channels or []}
    if allowed and conversation.channel not in allowed:
        return f"channel {conversation.channel or 'unknown'} is not surveyed by this mapping"
    return None


def no_excluded_tag(mapping: IvrMapping, conversation: Conversation) -> str | None:
    excluded = {t.strip().lower() for t in mapping.excluded_tags or [] if t.strip()}
    hit = sorted({t for t in conversation.tag_names if t.lower() in excluded})
    if hit:
        return f"excluded tag {', '.join(hit)}"
    return None


def sampled(mapping: IvrMapping, conversation: Conversation) -> str | None:
    """Deterministic, so reprocessing the same close gives the same answer."""
    if mapping.sample_percent >= 100:
        return None
    digest = hashlib.sha256(f"{mapping.pk}:{conversation.csid}".encode()).digest()
    if int.from_bytes(digest[:4], "big") % 100 >= mapping.sample_percent:
        return f"not in the {mapping.sample_percent}% sample"
    return None


RULES = (assigned_agent, reachable_respondent, channel_allowed, no_excluded_tag, sampled)


def first_skip_reason(mapping: IvrMapping, conversation: Conversation) -> str | None:
    for rule in RULES:
        reason = rule(mapping, conversation)
        if reason:
            return reason
    return None
