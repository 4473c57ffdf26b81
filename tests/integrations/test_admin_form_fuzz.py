"""Every add and change form of the admin, posted anything by a superuser, answers with a
page: the form again with its errors (200) or a redirect after the save (302), never a
server error. Each submission starts as a valid one (a factory's new row, or the row being
changed, as the browser would post it, inline forms and their management fields included)
and a few of its inputs are replaced or left out: awkward text, numbers out of range,
choices that are not offered, other rows' and other tenants' keys. The log and evidence
admins, which nobody adds to or changes, answer any POST with 403."""

from datetime import UTC, datetime

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.alerts.models import AlertIncident, AlertSettings
from integrations.audit.services import audit_record
from integrations.erasure.models import Erasure
from integrations.models import (
    Account,
    ApiKey,
    DixaConnection,
    DixaDeliveryLog,
    ManagementToken,
    RejectedDelivery,
)
from integrations.services.api_keys import api_key_create
from integrations.services.management_tokens import management_token_create
from ivr.models import IvrMapping, NpsTodayDelivery
from pgap.models import (
    CardSetup,
    CoachingPeriod,
    PgapSetup,
    ResponseHook,
    ResponseSubscription,
)
from tests.fakes.dixa import FakeDixa
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import (
    AccountFactory,
    InboundEventFactory,
    SigningSecretFactory,
)
from tests.integrations.test_admin_scoping import registered_admins
from tests.ivr.factories import IvrMappingFactory, NpsTodayDeliveryFactory, SurveyTriggerFactory
from tests.pgap.factories import (
    CoachingPeriodFactory,
    PgapPairFactory,
    PgapSetupFactory,
    ResponseHookFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

User = get_user_model()
PASSWORD = "correct horse battery staple"
# Per admin view (about 30 of them), so that the module takes under 20 s. Hunting, run it
# with 10 to 60 times as many: a NUL in the mapping's tags took about 1000 to find.
EXAMPLES = 12
ADMINS = registered_admins()
MISSING = object()  # an input left out of the POST
AWKWARD = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "-1",
    "0",
    "9" * 40,
    "-" + "9" * 40,
    "1e400",
    "1.5",
    "NaN",
    "x" * 5000,
    "é 🙂 漢字",
    "<script>alert(1)</script>",
    "on",
    "true",
    "null",
    "[]",
    '{"a": 1}',
    "2024-13-45",
    "0001-01-01",
    "9999-12-31",
    "24:61",
    "not-a-choice",
)
# Added to a valid value: what PostgreSQL text cannot hold, what ends a header or a line.
APPENDED = ("\x00", "\r\n", " ", "é🙂", "<b>", "9" * 40)
# The admin's own inputs beside the form's (save and continue, save as new, in a popup).
CONTROLS = ("_continue", "_addanother", "_saveasnew", "_popup", "_changelist_filters")
printable = st.characters(blacklist_categories=("Cs",))  # a POST cannot carry a lone surrogate


def admin_request(user=None):
    """A request of `user` (a superuser, unsaved, when None)."""
    request = RequestFactory().get("/")
    request.user = user or User(is_superuser=True, is_staff=True, is_active=True)
    return request


def views(*, writable: bool, admins=ADMINS, user=None):
    """(model, "add" or "change") for each view of `admins` that `user` (a superuser when
    None) may, or may not, post to."""
    request = admin_request(user)
    for model, model_admin in admins:
        allowed = {
            "add": model_admin.has_add_permission(request),
            "change": model_admin.has_change_permission(request),
        }
        for view, may in allowed.items():
            if may == writable:
                yield pytest.param(model, view, id=f"{model._meta.label}-{view}")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture(scope="module")
def fake_apis():
    """Dixa and nps.today, which the mapping form asks about its queue and campaign (started
    once: stopping a fake server takes half a second)."""
    dixa = FakeDixa(tokens=["dixa-test-token"]).start()
    npstoday = FakeNpsToday(api_keys=["nps-test-key"]).start()
    yield dixa, npstoday
    dixa.stop()
    npstoday.stop()


@pytest.fixture
def rows(superuser, fake_apis, settings):
    """A row of every model to change, of one tenant beside another's."""
    settings.DIXA_API_URL, settings.NPSTODAY_API_URL = (fake.url for fake in fake_apis)
    mine = AccountFactory(name="Mine", npstoday_api_key="nps-test-key")
    theirs = AccountFactory(name="Theirs", npstoday_api_key="nps-test-key")
    SigningSecretFactory(account=mine)
    mapping = IvrMappingFactory(account=mine)
    IvrMappingFactory(account=theirs)
    pgap = PgapSetupFactory(account=mine)
    pgap.mappings.set([mapping])
    someone = User.objects.create_user("someone", "someone@example.com", PASSWORD)
    moment = datetime(2024, 5, 1, 12, tzinfo=UTC)
    visitor = {"user_agent": "ua", "ip_address": "127.0.0.1", "username": "someone"}
    visited = {**visitor, "http_accept": "*/*", "path_info": "/admin/login/"}
    return {
        Account: mine,
        AlertSettings: AlertSettings.objects.create(account=mine, email_recipients="a@b.example"),
        ApiKey: api_key_create(account=mine, name="dixa").api_key,
        DixaConnection: DixaConnection.objects.create(account=mine, api_token="dixa-test-token"),
        IvrMapping: mapping,
        NpsTodayDelivery: NpsTodayDeliveryFactory(account=mine),
        CardSetup: CardSetup.objects.create(account=mine),
        CoachingPeriod: CoachingPeriodFactory(account=mine, agent_emails=["karla@corp.example"]),
        PgapSetup: pgap,
        TOTPDevice: TOTPDevice.objects.create(user=someone, name="phone"),
        User: someone,
        Group: Group.objects.create(name="operators"),
        AccessAttempt: AccessAttempt.objects.create(
            **visited, get_data="", post_data="", failures_since_start=1
        ),
        AccessFailureLog: AccessFailureLog.objects.create(**visited),
        AccessLog: AccessLog.objects.create(**visited, logout_time=moment),
    }


def new_row(model, user, account=None):
    """A valid new row of `model`, unsaved (the add form saves it), of `account` (a new one
    when None) which has no row yet, so that one-per-account rows can be added."""
    account = account or AccountFactory(npstoday_api_key="nps-test-key")
    builders = {
        Account: lambda: AccountFactory.build(npstoday_api_key="nps-test-key"),
        AlertSettings: lambda: AlertSettings(account=account),
        ApiKey: lambda: ApiKey(account=account, name="dixa"),
        DixaConnection: lambda: DixaConnection(account=account, api_token="dixa-test-token"),
        IvrMapping: lambda: IvrMappingFactory.build(account=account),
        NpsTodayDelivery: lambda: NpsTodayDeliveryFactory.build(account=account),
        CardSetup: lambda: CardSetup(account=account),
        CoachingPeriod: lambda: CoachingPeriodFactory.build(account=account),
        PgapSetup: lambda: PgapSetupFactory.build(account=account),
        ManagementToken: lambda: ManagementToken(name="ci"),
        ResponseHook: lambda: ResponseHookFactory.build(account=account),
        TOTPDevice: lambda: TOTPDevice(user=user, name="phone"),
        User: lambda: User(username=f"user-{account.pk}"),
        Group: lambda: Group(name=f"group-{account.pk}"),
    }
    return builders[model]()


# What a valid add form needs beyond the row's own values.
ADD_EXTRAS = {User: {"password1": PASSWORD, "password2": PASSWORD}}


def as_posted(value):
    if value is None or value is False:
        return ""
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return str(value)


def inputs(form) -> dict[str, tuple[forms.Field, object]]:
    """Each input a browser posts for `form` as shown: its name, its field and its value."""
    posted = {}
    for bound in form:
        field, value = bound.field, bound.value()
        if isinstance(field, forms.MultiValueField):
            parts = value if isinstance(value, list | tuple) else field.widget.decompress(value)
            for suffix, subfield, part in zip(
                field.widget.widgets_names, field.fields, parts, strict=True
            ):
                posted[bound.html_name + suffix] = (subfield, as_posted(part))
        else:
            posted[bound.html_name] = (field, as_posted(value))
    return posted


def page_inputs(model_admin, request, obj, instance) -> dict[str, tuple[forms.Field, object]]:
    """The inputs of the admin's add page (obj None) or change page, the inline formsets'
    included, each with one extra form where rows may be added."""
    form_class = model_admin.get_form(request, obj, change=obj is not None)
    posted = inputs(form_class(instance=instance))
    for formset_class, inline in model_admin.get_formsets_with_inlines(request, obj):
        prefix = formset_class.get_default_prefix()
        kwargs = model_admin.get_formset_kwargs(request, obj or instance, inline, prefix)
        formset = formset_class(**kwargs)
        formset.extra = 1
        posted |= inputs(formset.management_form)
        for form in formset.forms:
            posted |= inputs(form)
    return posted


def offered(field) -> list[str]:
    """The values `field` offers (a few of them, for a relation)."""
    if isinstance(field, forms.ModelChoiceField):
        return [str(pk) for pk in field.queryset.values_list("pk", flat=True)[:20]]
    choices = getattr(field, "choices", None) or []
    flat = []
    for key, label in choices:
        if isinstance(label, list | tuple):  # a group of choices
            flat.extend(str(k) for k, _ in label)
        else:
            flat.append(str(key))
    return [value for value in flat if value]


def awkward_value(field, current, foreign=None):
    """Anything a form might be posted in place of `current`, the value of `field`: nothing,
    awkward text, a number, the value with something awkward added, another choice, or
    another tenant's key (`foreign`: model -> its rows' keys, None -> their other unique
    values; drawn more often where a key or choice is posted, mostly the keys of the field's
    own model)."""
    single = [
        st.sampled_from((MISSING, *AWKWARD)),
        st.text(printable, max_size=300),
        st.integers().map(str),
    ]
    if isinstance(current, str):
        single.append(st.sampled_from(APPENDED).map(current.__add__))
    if choices := offered(field):
        single.append(st.sampled_from(choices))
    if foreign:
        every = st.sampled_from(sorted({key for keys in foreign.values() for key in keys}))
        related = getattr(getattr(field, "queryset", None), "model", None)
        single.append(every)
        if choices or isinstance(field, forms.ChoiceField):
            single.extend([every] * 2)
    value = st.one_of(single)
    if foreign and foreign.get(related):  # half of the draws: a key of the field's model
        value = st.one_of(st.sampled_from(foreign[related]), value)
    if isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
        return st.lists(value.filter(lambda v: v is not MISSING), max_size=3)
    return value


def page(
    model, view: str, user, rows, account=None
) -> tuple[str, dict[str, tuple[forms.Field, object]]]:
    """The URL of the add or change page as `user` sees it, and the inputs a browser posts
    from it (the add page's for a new row of `account`, see new_row)."""
    model_admin = admin.site.get_model_admin(model)
    request = admin_request(user)
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    if view == "change":
        obj = model.objects.get(pk=rows[model].pk)
        return reverse(f"{info}_change", args=[obj.pk]), page_inputs(model_admin, request, obj, obj)
    fields = page_inputs(model_admin, request, None, new_row(model, user, account))
    extras = {name: (forms.CharField(), value) for name, value in ADD_EXTRAS.get(model, {}).items()}
    return reverse(f"{info}_add"), fields | extras


def as_typed(fields) -> dict:
    return {name: value for name, (_, value) in fields.items()}


def drawn_post(data, model, user, fields, foreign=None) -> dict:
    """The page's submission with one to three of its inputs (or of the admin's controls)
    replaced or left out, as drawn."""
    post = as_typed(fields)
    # (Save as new on a page of rows nobody adds is refused, rightly: 403.)
    may_add = admin.site.get_model_admin(model).has_add_permission(admin_request(user))
    names = sorted(fields) + [c for c in CONTROLS if c != "_saveasnew" or may_add]
    if foreign:  # keys and choices, where another tenant's keys go, four times as often
        names += 3 * [name for name, (field, _) in fields.items() if offered(field)]
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        field, current = fields.get(name, (forms.CharField(), ""))
        value = data.draw(awkward_value(field, current, foreign), label=name)
        post.pop(name, None) if value is MISSING else post.update({name: value})
    return post


@pytest.mark.parametrize(("model", "view"), list(views(writable=True)))
def test_each_form_as_shown_saves(root_client, superuser, rows, model, view):
    # given the page's inputs as the browser posts them, unchanged
    url, fields = page(model, view, superuser, rows)

    # when
    response = root_client.post(url, as_typed(fields))

    # then it saves (the fuzz below starts from a submission that is valid)
    errors = response.context and response.context.get("errors")
    assert response.status_code == 302, f"{model._meta.label} {view}: {errors}"


def fuzz(examples: int):
    """Hypothesis settings of these tests: `examples` per view, no deadline, no database."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.mark.parametrize(("model", "view"), list(views(writable=True)))
@fuzz(EXAMPLES)
@given(data=st.data())
def test_any_post_to_an_admin_form_is_answered_with_a_page(
    root_client, superuser, rows, model, view, data
):
    with transaction.atomic():  # each example starts from the same rows
        # given a valid submission of the add or change page, a few of its inputs replaced
        url, fields = page(model, view, superuser, rows)
        post = drawn_post(data, model, superuser, fields)

        # when
        response = root_client.post(url, post)

        # then
        assert response.status_code in (200, 302), f"{model._meta.label} {view}: {post}"
        transaction.set_rollback(True)


@pytest.fixture
def evidence(rows, superuser):
    """A row of each model only looked at in the admin."""
    mine, moment = rows[Account], datetime(2024, 5, 1, 12, tzinfo=UTC)
    mapping, connection = rows[IvrMapping], rows[DixaConnection]
    InboundEventFactory(account=mine)
    SurveyTriggerFactory(mapping=mapping)
    PgapPairFactory(prediction__mapping=mapping)
    hook = ResponseHookFactory(account=mine)
    ResponseSubscription.objects.create(account=mine, hook=hook, campaign_id=7232)
    management_token_create(user=superuser, name="ci")
    audit_record(actor=superuser, action="test", objects=[mine], summary="s", result="r")
    AlertIncident.objects.create(
        account=mine, condition="dead_letters", detail="3", opened_at=moment, last_seen_at=moment
    )
    DixaDeliveryLog.objects.create(
        connection=connection,
        subscription_id="sub",
        event_type="ConversationClosed",
        delivered_at=moment,
        success=True,
        reconciliation=DixaDeliveryLog.Reconciliation.RECORDED,
        pulled_at=moment,
    )
    Erasure.objects.create(
        actor=superuser, actor_label="root", kind=Erasure.Kind.EMAIL, fingerprint="0", account=mine
    )
    RejectedDelivery.objects.create(
        account=mine, status_code=400, reason="bad", raw_body=b"{}", body_size=2
    )


@pytest.mark.parametrize(("model", "view"), list(views(writable=False)))
def test_a_post_to_a_read_only_admin_is_refused(root_client, evidence, model, view):
    # given a log or evidence admin nobody adds to or changes (and a row of it)
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    if view == "add":
        url = reverse(f"{info}_add")
    else:
        url = reverse(f"{info}_change", args=[model.objects.order_by("pk").first().pk])

    # when
    response = root_client.post(url, {"name": "x", "account": "1"})

    # then
    assert response.status_code == 403
