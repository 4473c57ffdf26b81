"""The customer's answer: nps.today's new-response webhook (the connector's NewResponse
trigger) read, stored once per (account, response Id) and matched to our survey.

- A replay of a stored Id replaces it only when its RatingTime is later; an older or equal
  one changes nothing (200).
- Matching, within the hook's account only: the survey's guid (when the body carries
  one), then the conversation id in Custom (`dixaConversationId`), then the respondent's
  ExternalId (the campaign member's external id, our csid, or the respondent's own
  external id, Dixa's requester id). Unmatched responses are kept (202) and listed.
"""

import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime

from integrations.dixa.envelope import storable
from integrations.models import Account
from integrations.services.ingest import Receipt
from ivr.models import SurveyTrigger
from pgap.models import SurveyResponse
from pgap.services.pairs import pgap_pair_refresh

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32  # nps.today's responses are 3 levels deep
MAX_ID_LENGTH = 100  # SurveyResponse.response_id
INT_MAX, BIGINT_MIN, BIGINT_MAX = 2**31 - 1, -(2**63), 2**63 - 1
TIME_YEARS = range(1900, 2201)
CSID_KEY = "dixaconversationid"  # in Custom, in any case (ivr.member writes dixaConversationId)


class ResponseError(ValueError):
    """The body is not a response we can take; the message says why (never echoing it)."""


@dataclass(frozen=True)
class ParsedResponse:
    response_id: str
    rating: int
    rating_time: datetime | None = None
    comment: str = ""
    agent_rating: int | None = None
    campaign_id: int | None = None
    email: str = ""
    external_id: str = ""
    csid: int | None = None  # Custom's dixaConversationId, for matching
    guid: uuid.UUID | None = None
    payload: dict = field(default_factory=dict)  # the body, storable in jsonb


@dataclass(frozen=True)
class Match:
    trigger: SurveyTrigger | None = None
    matched_by: str = SurveyResponse.Match.NONE
    csid: int | None = None


def survey_response_receive(
    *, account: Account, read: Callable[[int], bytes], declared_length: int | None
) -> Receipt:
    """Everything after the hook's secret was checked: size, parse, store once, match."""
    if declared_length is not None and declared_length > MAX_BODY_BYTES:
        return _refused(413, "payload_too_large", f"body is {declared_length} bytes")
    body = read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _refused(413, "payload_too_large", "body is longer than the limit")
    try:
        parsed = survey_response_parse(body)
    except ResponseError as exc:
        return _refused(400, "invalid_payload", str(exc))
    return survey_response_store(account=account, parsed=parsed)


def _refused(status: int, code: str, reason: str) -> Receipt:
    if status == 413:
        reason = f"{reason}; the limit is {MAX_BODY_BYTES} bytes"
    return Receipt(status, {"error": code, "detail": reason})


@transaction.atomic
def survey_response_store(*, account: Account, parsed: ParsedResponse) -> Receipt:
    """Store a new response (202), replace a stored one with a later RatingTime (200,
    "updated"), or leave it as it is (200, "duplicate"). Pairs follow the match."""
    stored = _locked(account, parsed.response_id)
    if stored is None:
        match = _match(account, parsed)
        try:
            with transaction.atomic():
                stored = SurveyResponse.objects.create(
                    account=account, response_id=parsed.response_id, **_values(parsed, match)
                )
        except IntegrityError:
            stored = _locked(account, parsed.response_id)  # a concurrent delivery won
            if stored is None:
                raise
        else:
            _refresh_pairs(account, [match.csid if match.trigger else None])
            return Receipt(202, _answer("accepted", stored))
    if not _is_later(parsed.rating_time, stored.rating_time):
        return Receipt(200, _answer("duplicate", stored))
    before = stored.csid if stored.matched_by else None
    match = _match(account, parsed)
    for name, value in _values(parsed, match).items():
        setattr(stored, name, value)
    stored.save()
    # The csid it leaves first: a response belongs to one pair at a time.
    _refresh_pairs(account, [before, match.csid if match.trigger else None])
    return Receipt(200, _answer("updated", stored))


def _locked(account: Account, response_id: str) -> SurveyResponse | None:
    return (
        SurveyResponse.objects.select_for_update()
        .filter(account=account, response_id=response_id)
        .first()
    )


def _is_later(new: datetime | None, old: datetime | None) -> bool:
    if new is None:
        return False
    return old is None or new > old


def _values(parsed: ParsedResponse, match: Match) -> dict:
    return {
        "campaign_id": parsed.campaign_id,
        "rating": parsed.rating,
        "comment": parsed.comment,
        "rating_time": parsed.rating_time,
        "agent_rating": parsed.agent_rating,
        "respondent_email": parsed.email,
        "respondent_external_id": parsed.external_id,
        "csid": match.csid,
        "trigger": match.trigger,
        "matched_by": match.matched_by,
        "payload": parsed.payload,
    }


def _answer(status: str, response: SurveyResponse) -> dict:
    return {"status": status, "id": response.response_id, "matched_by": response.matched_by}


def _refresh_pairs(account: Account, csids: list[int | None]) -> None:
    for csid in dict.fromkeys(c for c in csids if c is not None):
        pgap_pair_refresh(account_id=account.pk, csid=csid)


# --- Matching ----------------------------------------------------------------------------


def _match(account: Account, parsed: ParsedResponse) -> Match:
    """Our survey for the response, within `account` only."""
    triggers = SurveyTrigger.objects.filter(account=account)
    if parsed.guid is not None:
        trigger = triggers.filter(guid=parsed.guid).first()
        if trigger is not None:
            return Match(trigger, SurveyResponse.Match.GUID, trigger.csid)
    if parsed.csid is not None:
        trigger = _latest(triggers.filter(csid=parsed.csid), parsed)
        if trigger is not None:
            return Match(trigger, SurveyResponse.Match.CSID, trigger.csid)
    if parsed.external_id:
        member_csid = _bigint(parsed.external_id)
        trigger = None
        if member_csid is not None:
            trigger = _latest(triggers.filter(csid=member_csid), parsed)
        if trigger is None:
            by_respondent = triggers.filter(payload__respondent__externalId=parsed.external_id)
            trigger = _latest(by_respondent, parsed)
        if trigger is not None:
            return Match(trigger, SurveyResponse.Match.EXTERNAL_ID, trigger.csid)
    return Match()  # csid stays empty: it names the conversation of a survey of ours


def _latest(triggers, parsed: ParsedResponse) -> SurveyTrigger | None:
    """The newest survey among `triggers` in the response's campaign (when it names one)."""
    if parsed.campaign_id is not None:
        triggers = triggers.filter(campaign_id=parsed.campaign_id)
    return triggers.order_by("-created_at", "-pk").first()


# --- Parsing -----------------------------------------------------------------------------


def survey_response_parse(body: bytes) -> ParsedResponse:
    """The fields we keep, from the connector's payload (PascalCase; camelCase is read too).
    Raises ResponseError when it is not a JSON object, lacks an Id, or its Rating is not a
    whole number from 0 to 10. Other fields that do not fit are left empty."""
    document = _document(body)
    response_id = _response_id(_get(document, "Id"))
    raw_rating = _get(document, "Rating")
    if raw_rating is None:
        raise ResponseError("Rating is missing")
    rating = _score(raw_rating)
    if rating is None:
        raise ResponseError("Rating must be a whole number from 0 to 10")
    respondent = _get(document, "Respondent")
    respondent = respondent if isinstance(respondent, dict) else {}
    custom = _custom(_get(document, "Custom"))
    return ParsedResponse(
        response_id=response_id,
        rating=rating,
        rating_time=_timestamp(_get(document, "RatingTime")),
        comment=_text(_get(document, "UserComment"), 10_000),
        agent_rating=_score(_get(document, "AgentRating")),
        campaign_id=_integer(_get(document, "CampaignId"), 0, INT_MAX),
        email=_text(_get(respondent, "EmailAddress"), 254),
        external_id=_text(_get(respondent, "ExternalId"), 200),
        csid=_bigint(next((v for k, v in custom.items() if k.lower() == CSID_KEY), None)),
        guid=_guid(_get(document, "Guid")),
        payload=_storable(document),
    )


def _document(body: bytes) -> dict:
    if not body:
        raise ResponseError("body is empty")
    try:
        document = json.loads(body)
    except RecursionError as exc:
        raise ResponseError("body is not valid JSON: it is nested too deeply") from exc
    except ValueError as exc:  # also UnicodeDecodeError, and ints over 4300 digits
        raise ResponseError(f"body is not valid JSON ({type(exc).__name__})") from exc
    if not isinstance(document, dict):
        raise ResponseError(f"body must be a JSON object, not {type(document).__name__}")
    return document


def _get(mapping: dict, name: str):
    """The value under `name` (PascalCase, as the connector spells it), else its camelCase."""
    if name in mapping:
        return mapping[name]
    return mapping.get(name[0].lower() + name[1:])


def _response_id(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ResponseError("Id is missing, or not a number or a string")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        raise ResponseError(f"Id is longer than {MAX_ID_LENGTH} characters")
    if storable(value) != value:
        raise ResponseError("Id contains a NUL character or an unpaired surrogate")
    return value


def _integer(value, low: int, high: int) -> int | None:
    """A whole number within [low, high], from a number or ASCII digits; None otherwise."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def _score(value) -> int | None:
    return _integer(value, 0, 10)


def _bigint(value) -> int | None:
    return _integer(value, BIGINT_MIN, BIGINT_MAX)


def _text(value, limit: int) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return storable(value)[:limit].strip() if isinstance(value, str) else ""


def _timestamp(value) -> datetime | None:
    """The instant in UTC (a value without an offset is read as UTC), for years 1900 to
    2200 only; None when it is no ISO 8601 time."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 64:
        return None
    try:
        parsed = parse_datetime(value.strip())
        if parsed is None:
            return None
        moment = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return moment if moment.year in TIME_YEARS else None


def _custom(value) -> dict:
    """Custom as an object: the connector types it as a string holding JSON."""
    if isinstance(value, str) and len(value) <= MAX_BODY_BYTES:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


def _guid(value) -> uuid.UUID | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _storable(value, depth: int = 0):
    """`value` as PostgreSQL jsonb can hold it: no NUL or unpaired surrogate in any text,
    NaN and Infinity as null."""
    if depth > MAX_DEPTH:
        raise ResponseError(f"body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {storable(k): _storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v, depth + 1) for v in value]
    return value
