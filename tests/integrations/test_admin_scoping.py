"""Every admin page of our apps, walked as a staff user of one account (nothing of another
account may show) and as a superuser (no query string may cause a server error)."""

from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.admin.scoping import account_path, scoped_list_filter
from integrations.models import (
    Account,
    HandlerRun,
    InboundEvent,
    InboundEventBody,
    ManagementToken,
    RejectedDelivery,
    SigningSecret,
)
from integrations.services.api_keys import api_key_create
from ivr.models import DeliveryAttempt, IvrMapping, NpsTodayDelivery, SurveyTrigger

pytestmark = pytest.mark.django_db

OUR_APPS = ("integrations", "ivr", "pgap")
# Everything of the other tenant carries this marker in its names, or a primary key
# starting with THEIR_PK, so that any of it showing on a page is caught.
MARKER = "THEIRS"
THEIR_PK = 98765
UNREACHABLE = "http://127.0.0.1:1"


def registered_admins() -> list[tuple]:
    """(model, its ModelAdmin) for every model on the admin site, by label (public APIs)."""
    models = sorted(apps.get_models(), key=lambda model: model._meta.label)
    return [(m, admin.site.get_model_admin(m)) for m in models if admin.site.is_registered(m)]


def our_admins():
    return [(m, a) for m, a in registered_admins() if m._meta.app_label in OUR_APPS]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def make_tenant(label: str, pk: int | None = None) -> dict:
    """One account with a row of every model of ours, each named after `label`."""

    def pk_at(offset: int):
        return None if pk is None else pk + offset

    account = Account.objects.create(
        pk=pk_at(0), name=f"{label} Corp", npstoday_api_key=f"nps-{label}-key"
    )
    event = InboundEvent.objects.create(
        pk=pk_at(1),
        account=account,
        event_id=f"{label}-event",
        event_type="ConversationClosed",
        event_fqn="CONVERSATION_CLOSED",
        csid=pk_at(1),
        queue_id=f"{label}-queue",
        verification=InboundEvent.Verification.VERIFIED,
        status=InboundEvent.Status.PROCESSED,
        outcome=InboundEvent.Outcome.HANDLED,
        outcome_reason=f"{label} outcome",
    )
    InboundEventBody.objects.create(event=event, raw_body=f'{{"id": "{label}"}}'.encode())
    HandlerRun.objects.create(pk=pk_at(2), event=event, handler="survey", reason=f"{label} ran")
    mapping = IvrMapping.objects.create(
        pk=pk_at(3),
        account=account,
        name=f"{label} mapping",
        campaign_id=7232,
        queue_id=f"{label}-queue",
        dixa_api_token=f"dixa-{label}-token",
    )
    trigger = SurveyTrigger.objects.create(
        pk=pk_at(4),
        account=account,
        mapping=mapping,
        inbound_event=event,
        dedupe_key=f"{label}-dedupe",
        campaign_id=7232,
        csid=pk_at(4),
        respondent_email=f"{label}@example.com",
        payload={"respondent": {"firstName": label}},
        status=SurveyTrigger.Status.FAILED,
        reason=f"{label} failed",
    )
    DeliveryAttempt.objects.create(
        pk=pk_at(5),
        trigger=trigger,
        number=1,
        request_url="https://api.npstoday.example/respondent",
        request_body={"label": label},
        response_body=f"{label} answer",
    )
    rejected = RejectedDelivery.objects.create(
        pk=pk_at(6),
        account=account,
        status_code=400,
        reason=f"{label} rejected",
        raw_body=label.encode(),
        body_size=len(label),
    )
    SigningSecret.objects.create(pk=pk_at(7), account=account, label=f"{label}-secret", secret="ab")
    delivery = NpsTodayDelivery.objects.create(account=account, disabled_reason=f"{label} off")
    api_key = api_key_create(account=account, name=f"{label}-key").api_key
    return {
        Account: account,
        InboundEvent: event,
        IvrMapping: mapping,
        SurveyTrigger: trigger,
        RejectedDelivery: rejected,
        NpsTodayDelivery: delivery,
        type(api_key): api_key,
    }


@pytest.fixture
def tenants(settings):
    settings.NPSTODAY_API_URL = UNREACHABLE
    settings.DIXA_API_URL = UNREACHABLE
    return make_tenant("Mine"), make_tenant(MARKER, pk=THEIR_PK * 100)


@pytest.fixture
def scoped_client(client, tenants, django_user_model):
    """A staff user of the first tenant, allowed everything on every model of our apps."""
    user = django_user_model.objects.create_user("ann", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=OUR_APPS))
    tenants[0][Account].members.add(user)
    client.force_login(user)
    return client


def assert_nothing_of_theirs(response, where: str) -> None:
    assert response.status_code < 500, where
    page = response.content.decode()
    assert MARKER not in page, f"{where} shows another account's data"
    assert str(THEIR_PK) not in page, f"{where} shows another account's ids"


def action_names(response) -> list[str]:
    form = response.context["action_form"] if response.context else None
    if form is None:
        return []
    return [name for name, _ in form.fields["action"].choices if name]


def test_every_admin_list_and_form_shows_a_staff_user_only_their_accounts(scoped_client, tenants):
    mine, _ = tenants
    for model, _ in our_admins():
        label = model._meta.label
        for query in ("", "?_facets=1"):
            listing = scoped_client.get(admin_url(model, "changelist") + query)
            assert listing.status_code == 200, label
            assert_nothing_of_theirs(listing, f"{label} list{query}")
        assert_nothing_of_theirs(scoped_client.get(admin_url(model, "add")), f"{label} add form")
        if model in mine:
            change = scoped_client.get(admin_url(model, "change", mine[model].pk))
            assert change.status_code == 200, label
            assert_nothing_of_theirs(change, f"{label} change form")


def test_autocomplete_offers_a_staff_user_only_their_accounts_objects(scoped_client, tenants):
    for model, _ in our_admins():
        for field in model._meta.fields:
            if not field.is_relation:
                continue
            params = {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field.name,
                "term": "",
            }
            response = scoped_client.get(reverse("admin:autocomplete") + "?" + urlencode(params))
            assert_nothing_of_theirs(response, f"{model._meta.label}.{field.name} autocomplete")


def test_no_action_touches_another_accounts_objects(scoped_client, tenants):
    _, theirs = tenants
    for model, _ in our_admins():
        url = admin_url(model, "changelist")
        target = theirs.get(model)
        if target is None:
            continue
        before = list(model.objects.filter(pk=target.pk).values())
        for action in action_names(scoped_client.get(url)):
            response = scoped_client.post(
                url,
                {
                    "action": action,
                    "confirmed": "yes",
                    "_selected_action": [target.pk],
                    "post": "yes",
                },
            )
            assert response.status_code < 500, (model._meta.label, action)
            after = list(model.objects.filter(pk=target.pk).values())
            assert after == before, f"{model._meta.label}: {action} changed another account's row"


def test_every_model_of_our_apps_hangs_off_an_account():
    # Management tokens belong to a user, and their admin shows each user only their own
    # (tests/integrations/test_api_token_admin.py).
    per_user = {ManagementToken}
    for model in apps.get_models():
        if model._meta.app_label in OUR_APPS and model not in per_user:
            assert account_path(model) is not None, model._meta.label
    assert account_path(DeliveryAttempt) == "trigger__account"
    assert account_path(Account) == ""


def test_a_filter_on_values_across_a_relation_is_refused():
    with pytest.raises(ImproperlyConfigured, match="mapping__name"):
        scoped_list_filter(SurveyTrigger, ("status", "mapping", "mapping__name"))


def test_survey_list_filters_by_the_staff_users_mappings_only(scoped_client, tenants):
    mine, theirs = tenants
    second = IvrMapping.objects.create(
        account=mine[Account], name="Mine second", campaign_id=1, queue_id="q-2"
    )
    page = scoped_client.get(admin_url(SurveyTrigger, "changelist")).content.decode()
    assert f"mapping__id__exact={second.pk}" in page
    assert f"mapping__id__exact={theirs[IvrMapping].pk}" not in page
    assert "THEIRS mapping" not in page


@pytest.mark.parametrize(
    "query",
    [
        "account=abc",
        "account=",
        "account__id__exact=abc",
        "mapping=x",
        "mapping__id__exact=x",
        "status__exact=zzz",
        "csid=1e400",
        "created_at__year=9999",
        "created_at__year=99999999999999999999",
        "reason__regex=(",
        "q=%00",
        "id=%00",
    ],
)
def test_malformed_filter_values_are_no_server_error(admin_client, tenants, query):
    for model, _ in our_admins():
        response = admin_client.get(admin_url(model, "changelist") + "?" + query)
        assert response.status_code < 500, (model._meta.label, query)


# --- property: no query string makes any changelist fail -----------------------------------

LOOKUPS = (
    "",
    "__exact",
    "__gte",
    "__lt",
    "__iexact",
    "__in",
    "__gt",
    "__lte",
    "__range",
    "__isnull",
    "__year",
    "__month",
    "__day",
    "__regex",
    "__contains",
    "__startswith",
    "__id__exact",
    "__pk",
    "__name",
)
SPECIAL = ("o", "p", "q", "e", "_facets", "all", "_to_field", "_popup", "account", "mapping")
AWKWARD = (
    "",
    "abc",
    "-1",
    "0",
    "1,2",
    "1.5",
    "1e400",
    "9999",
    "99999999999999999999",
    "true",
    "%",
    "(",
    "\x00",
    "é",
    "2024-13-45",
)
printable = st.characters(blacklist_categories=("Cs",))


def filtered_name(item) -> str:
    """The field path (or parameter) of a list_filter entry."""
    if isinstance(item, str):
        return item
    return item[0] if isinstance(item, tuple) else item.parameter_name


def parameter_names(model, model_admin) -> list[str]:
    """The model's fields, and (twice, to draw them more often) what its list filters on."""
    filtered = [filtered_name(item) for item in model_admin.list_filter]
    hierarchy = [model_admin.date_hierarchy] if model_admin.date_hierarchy else []
    return sorted(field.name for field in model._meta.fields) + 2 * (filtered + hierarchy)


@st.composite
def changelist_requests(draw):
    model, model_admin = draw(st.sampled_from(our_admins()))
    key = st.one_of(
        st.builds(
            str.__add__,
            st.sampled_from(parameter_names(model, model_admin)),
            st.sampled_from(LOOKUPS),
        ),
        st.sampled_from(SPECIAL),
        st.text(printable, max_size=12),
    )
    value = st.one_of(
        st.sampled_from(AWKWARD), st.integers().map(str), st.text(printable, max_size=20)
    )
    pairs = draw(st.lists(st.tuples(key, value), max_size=4))
    return model, urlencode(pairs)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=changelist_requests())
def test_no_query_string_makes_an_admin_list_fail(admin_client, tenants, case):
    model, query = case
    response = admin_client.get(admin_url(model, "changelist") + "?" + query)
    assert response.status_code < 500, f"{model._meta.label} ?{query}"
