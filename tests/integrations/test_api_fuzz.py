"""The management API fuzzed against its own OpenAPI document with schemathesis: valid and
invalid parameters and bodies, over real HTTP to the live test server, as a staff user of
one of two accounts. No answer may be a 5xx, and every answer must match the document
(status code, content type, headers, body), and invalid input must be refused.

Not checked: that every schema-valid request is accepted. Some refusals cannot be written
in OpenAPI: a cursor we did not issue, another tenant's slug, an end before its start."""

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from integrations.services.management_tokens import management_token_create
from ivr.models import SurveyTrigger
from tests.integrations.api import ALL_PERMS
from tests.integrations.factories import AccountFactory, InboundEventFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import PgapPairFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Examples per operation and mode: about 15 operations in well under a minute.
MAX_EXAMPLES = 25


def seed(django_user_model) -> str:
    """Two tenants with events, surveys in every state, mappings and P-GAP pairs; a staff
    user of the first. Returns the user's token."""
    ours, theirs = AccountFactory(slug="ours"), AccountFactory(slug="theirs")
    for account in (ours, theirs):
        mapping = IvrMappingFactory(account=account)
        for state in SurveyTrigger.Status.values:
            SurveyTriggerFactory(mapping=mapping, status=state, finished_at=timezone.now())
        InboundEventFactory.create_batch(3, account=account, event_type="ConversationClosed")
        PgapPairFactory.create_batch(2, prediction__mapping=mapping)
    user = django_user_model.objects.create_user("fuzzer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=ALL_PERMS))
    ours.members.add(user)
    return management_token_create(user=user, name="fuzz").plaintext


def operations(document: dict) -> list:
    """(mode, method, path) of every operation; negative cases only where a query parameter
    or a body can be invalid (a path parameter is any text: a 404)."""
    cases = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            cases.append((GenerationMode.POSITIVE, method.upper(), path))
            takes_query = any(p["in"] == "query" for p in operation.get("parameters", []))
            if takes_query or "requestBody" in operation:
                cases.append((GenerationMode.NEGATIVE, method.upper(), path))
    return cases


def fuzz(schema, mode, method: str, path: str) -> None:
    """Hypothesis draws the operation's cases of this mode; each is sent and checked."""

    @given(case=schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def each(case):
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    each()


def test_api_answers_match_the_schema_and_never_5xx(live_server, django_user_model, settings):
    # given two tenants' data, a staff user of one, and the API's document
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"management": "100000/min"},
    }
    auth = {"Authorization": f"Bearer {seed(django_user_model)}"}
    # the document as the server serves it
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema?format=json", headers=auth
    )
    schema.config.update(base_url=live_server.url, headers=auth)
    # when every operation is fuzzed (one database for all: a flush per operation would
    # take longer than the fuzzing)
    failures = []
    for mode, method, path in operations(schema.raw_schema):
        try:
            fuzz(schema, mode, method, path)
        except Exception as exc:  # noqa: BLE001 (each operation's failures are reported)
            failures.append(f"{mode.value} {method} {path}:\n{exc}")
    # then no answer was a 5xx or differed from the document
    assert not failures, "\n\n".join(failures)
