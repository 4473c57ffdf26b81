"""Searches that use indexes. Django's `=field` search compares UPPER(column::text) and a
plain one runs `UPPER(column) LIKE '%…%'`: both read every row. Here the term is recognised
(a number, a UUID, an email, a phone) and looked up exactly on the indexed columns. A phone
is looked up as typed and with its `+` (or without it): Dixa sends "+4520304050", people
type "4520304050"; both forms are exact, so the column's index still answers."""

import re
import uuid

from django.db.models import Q

PHONE = re.compile(r"^\+?[0-9][0-9 ]{4,}$")
# csid is a PostgreSQL bigint.
MAX_CSID = 2**63 - 1


def as_csid(term: str) -> int | None:
    if term.isascii() and term.isdigit() and int(term) <= MAX_CSID:
        return int(term)
    return None


def as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


def as_email(term: str) -> str | None:
    return term.lower() if "@" in term else None


def as_phone(term: str) -> str | None:
    return term.replace(" ", "") if PHONE.match(term) else None


def phone_forms(term: str) -> list[str] | None:
    """The phone as typed (spaces dropped) with and without its leading `+`, the form Dixa
    sends first: "45 20 30 40 50" → ["+4520304050", "4520304050"]."""
    phone = as_phone(term)
    if phone is None:
        return None
    digits = phone.removeprefix("+")
    return [f"+{digits}", digits]


def exact_term_filter(term: str, fields: dict[str, str]) -> Q | None:
    """Q matching `term` exactly on whichever of `fields` it can be; `fields` maps a kind
    ("csid", "uuid", "email", "phone", "text") to a column. None: the term fits none."""
    parsers = {
        "csid": as_csid,
        "uuid": as_uuid,
        "email": as_email,
        "phone": phone_forms,
        "text": lambda t: t,
    }
    found = Q()
    for kind, column in fields.items():
        value = parsers[kind](term)
        if isinstance(value, list):
            found |= Q(**{f"{column}__in": value})
        elif value is not None:
            found |= Q(**{column: value})
    return found or None


class ExactSearchMixin:
    """search_fields are ignored in favour of `exact_search` ({kind: column}); the box's
    help text says what it finds."""

    exact_search: dict[str, str] = {}

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        found = exact_term_filter(term, self.exact_search)
        return (queryset.filter(found) if found else queryset.none()), False
