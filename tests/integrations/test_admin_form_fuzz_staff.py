"""The staff variant of test_admin_form_fuzz: an account admin of one account posts anything to
the add and change forms of our apps' admins, the drawn values including another account's
keys (its id and slug, its mappings', API keys', signing secrets', P-GAP setup's, ...) in
every input. The answer is a page, never a server error; the other account's rows stay as
they were, and no row outside it now points at one of them; the change page of one of its
rows is refused. (A superuser may use every account's rows, so the superuser's fuzz cannot
find what this one looks for.)"""

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from integrations.admin.scoping import account_path
from integrations.alerts.models import AlertSettings
from integrations.models import Account, DixaConnection
from integrations.services.roles import ACCOUNT_ADMIN, APPS
from ivr.models import IvrMapping
from pgap.models import CardSetup, CoachingPeriod, PgapSetup
from tests.integrations.factories import AccountFactory
from tests.integrations.test_admin_form_fuzz import (
    User,
    admin_request,
    drawn_post,
    fake_apis,  # noqa: F401  (fixture)
    fuzz,
    page,
    rows,  # noqa: F401  (fixture)
    superuser,  # noqa: F401  (fixture)
    views,
)
from tests.integrations.test_admin_scoping import MARKER, THEIR_PK, make_tenant, our_admins
from tests.pgap.factories import CoachingPeriodFactory, ResponseHookFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Per view (about 20 of them), so that the module takes about 10 s. Hunting, run it with ten
# times as many.
EXAMPLES = 8
# Our models that belong to an account (management tokens belong to a user).
OUR_MODELS = [
    model
    for model in apps.get_models()
    if model._meta.app_label in APPS and account_path(model) is not None
]
# Each relation from one of them to another: (model, field).
RELATIONS = [
    (model, field)
    for model in OUR_MODELS
    for field in [*model._meta.fields, *model._meta.many_to_many]
    if field.is_relation and field.related_model in OUR_MODELS
]


def account_admin() -> User:
    """An account admin as the parameters are drawn up (before the database exists): the
    role's permissions, view, add and change of our apps' models, held in memory."""
    user = User(username="ada", is_staff=True, is_active=True)
    user._perm_cache = {
        f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        for model in OUR_MODELS
        for action in ("view", "add", "change")
    }
    return user


@pytest.fixture
def staff(staff_user_factory, rows):  # noqa: F811
    """An account admin (the shipped role) of the superuser fuzz's account, and of no other."""
    user = staff_user_factory("ada", rows[Account])
    user.user_permissions.clear()
    user.groups.add(Group.objects.get(name=ACCOUNT_ADMIN))
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def theirs(rows):  # noqa: F811
    """Another account with a row of every model of ours, its keys far from ours."""
    tenant = make_tenant(MARKER, pk=THEIR_PK * 100)
    account, mapping = tenant[Account], tenant[IvrMapping]
    tenant[AlertSettings] = AlertSettings.objects.create(
        account=account, email_recipients="theirs@example.com"
    )
    tenant[DixaConnection] = DixaConnection.objects.create(account=account, api_token="theirs")
    tenant[CardSetup] = CardSetup.objects.create(account=account)
    tenant[CoachingPeriod] = CoachingPeriodFactory(account=account, agent_emails=["t@t.example"])
    tenant[PgapSetup] = PgapSetup.objects.create(account=account, dixa_api_token="theirs")
    tenant[PgapSetup].mappings.set([mapping])
    ResponseHookFactory(account=account)
    return tenant


@pytest.fixture
def watched(theirs) -> "Watched":
    """The other account's rows as they are before any post (none of ours points at them)."""
    account = theirs[Account]
    queries = snapshot_queries(account)
    pointing = pointing_query(account)
    assert not run(pointing)
    before = {name: run(query) for name, query in queries.items()}
    return Watched(keys_of(account), queries, pointing, before)


def scope(model, account) -> Q:
    """The rows of `model` that belong to `account`."""
    path = account_path(model)
    return Q(pk=account.pk) if path == "" else Q(**{path: account})


def compiled(queryset) -> tuple[str, tuple]:
    """The SQL of `queryset` and its parameters, compiled once: the checks below run after
    every post, and compiling their hundred-odd querysets took longer than the post."""
    return queryset.query.sql_with_params()


def run(query: tuple[str, tuple]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(*query)
        return cursor.fetchall()


def snapshot_queries(account) -> dict[str, tuple]:
    """A query of the rows of each model of ours that belong to `account` (each column as
    stored), and of each of their many-to-many links."""
    queries = {}
    for model in OUR_MODELS:
        owned = model.objects.filter(scope(model, account)).order_by("pk")
        columns = [field.attname for field in model._meta.fields]
        queries[model._meta.label] = compiled(owned.values_list(*columns))
        for field in model._meta.many_to_many:
            links = owned.filter(**{f"{field.name}__isnull": False})
            links = links.values_list("pk", field.name).order_by("pk", field.name)
            queries[f"{model._meta.label}.{field.name}"] = compiled(links)
    return queries


def pointing_query(account) -> tuple[str, tuple]:
    """A query of the rows outside `account` (of our models) that refer to one of its rows,
    as ("label.field", key)."""
    queries = []
    for model, field in RELATIONS:
        related = field.related_model
        theirs = related.objects.filter(scope(related, account)).values("pk")
        outside = model.objects.exclude(scope(model, account))
        where = Value(f"{model._meta.label}.{field.name}")
        key = Cast("pk", output_field=CharField())
        pointing = outside.filter(**{f"{field.name}__in": theirs})
        queries.append(pointing.annotate(where=where, key=key).values_list("where", "key"))
    return compiled(queries[0].order_by().union(*(q.order_by() for q in queries[1:]), all=True))


def keys_of(account) -> dict:
    """What a form might be posted to name one of the rows of `account`: the keys of each
    model's rows, and (under None) their other unique values (the account's slug and name,
    a key's prefix, ...)."""
    keys, other = {}, set()
    for model in OUR_MODELS:
        unique = [field.attname for field in model._meta.fields if field.unique]
        owned = model.objects.filter(scope(model, account)).values_list("pk", *unique)
        for pk, *values in owned:
            keys.setdefault(model, []).append(str(pk))
            other.update(str(value) for value in values if isinstance(value, int | str))
    return keys | {None: sorted(other)}


@dataclass
class Watched:
    """Another account's rows, as they were before any post, and the queries that look at
    them again."""

    keys: dict
    queries: dict[str, tuple]
    pointing: tuple[str, tuple]
    before: dict[str, list[tuple]]

    def changed(self) -> list[str]:
        """The models (or links) whose rows of the account are not as they were."""
        return [name for name, query in self.queries.items() if run(query) != self.before[name]]


def refused(response) -> bool:
    """The admin's answer to a page of an object the user may not see: 403, 404, or the
    redirect to the index saying it doesn't exist."""
    if response.status_code in (403, 404):
        return True
    messages = " ".join(str(m) for m in get_messages(response.wsgi_request))
    return (
        response.status_code == 302
        and response.url == reverse("admin:index")
        and "doesn’t exist" in messages.replace("'", "’")
    )


@pytest.mark.parametrize(
    ("model", "view"), list(views(writable=True, admins=our_admins(), user=account_admin()))
)
@fuzz(EXAMPLES)
@given(data=st.data())
def test_a_staff_users_post_never_reaches_another_account(
    staff_client,
    staff,
    rows,  # noqa: F811
    theirs,
    watched,
    model,
    view,
    data,
):
    with transaction.atomic():  # each example starts from the same rows
        # given an account admin's valid submission of the page, for their account's row (or
        # a new one of their account), a few inputs replaced, often by the other account's keys
        account = None
        if view == "add":  # (of an account without rows, so that one-per-account rows can be)
            account = AccountFactory(npstoday_api_key="nps-test-key")
            staff.relay_accounts.set([account])
        model_admin = admin.site.get_model_admin(model)
        assert getattr(model_admin, f"has_{view}_permission")(admin_request(staff))
        url, fields = page(model, view, staff, rows, account)
        post = drawn_post(data, model, staff, fields, foreign=watched.keys)
        at_theirs = view == "change" and data.draw(st.booleans(), label="their row's page")
        # (Save as new makes a change page Django's add page: the row in the URL is not read.)
        at_theirs_row = at_theirs and "_saveasnew" not in post
        if at_theirs:
            info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            url = reverse(f"{info}_change", args=[theirs[model].pk])

        # when
        response = staff_client.post(url, post)

        # then
        where = f"{model._meta.label} {view} {url}: {post}"
        if at_theirs_row:
            assert refused(response), f"their row's page answered {response.status_code}: {where}"
        else:
            assert response.status_code in (200, 302), where
        assert not watched.changed(), f"the other account's rows changed: {where}"
        assert not run(watched.pointing), f"rows point at the other account's: {where}"
        transaction.set_rollback(True)
