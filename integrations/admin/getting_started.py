"""The dashboard's "Getting started": while an account of the user's is not set up, a short
checklist for it (an account with its nps.today key, a way for Dixa to deliver, a mapping;
then, optional, P-GAP and the agent's card), each step ticked once done and linked to where
it is done. Apps register their steps (register_step). The checklist is shown to users who
may add what its steps add, for their own accounts only, in a few queries whatever the
number of accounts; once every account's required steps are done it is gone."""

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce

from django.conf import settings
from django.contrib import admin
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.http import HttpRequest
from django.urls import reverse

from integrations.admin.scoping import visible_accounts
from integrations.dashboard import register_panel
from integrations.models import Account, ApiKey, DixaConnection

SHOWN = 6  # accounts' checklists on the page at most; the others are counted


@dataclass(frozen=True)
class Link:
    text: str
    url: str = ""  # empty: named only (the user may not open that page)
    note: str = ""
    done: bool = False


@dataclass(frozen=True)
class Guide:
    """What a step says for one account (or before there is one)."""

    title: str
    links: list[Link] = field(default_factory=list)
    joiner: str = "or"
    note: str = ""


@dataclass(frozen=True)
class Step:
    key: str
    order: int
    done: Callable[[], object]  # a condition on an Account row: true once the step is done
    guide: Callable[[HttpRequest, Account | None, bool], Guide]  # (request, account, done)
    adds: tuple = ()  # its models: a user who may add one of them (required steps) sees it
    optional: bool = False
    columns: Callable[[], dict] = dict  # more annotations of the account its guide reads


_steps: dict[str, Step] = {}
_other_keys: list[Callable[[], Q]] = []


def register_step(key: str, *, order: int, done, guide, adds=(), optional=False, columns=dict):
    _steps[key] = Step(key, order, done, guide, tuple(adds), optional, columns)


def register_other_keys(keys: Callable[[], Q]) -> None:
    """API keys issued for something other than Dixa's deliveries (pgap: the card's keys):
    they do not make "a way for Dixa to deliver"."""
    _other_keys.append(keys)


def may_add(request: HttpRequest, model) -> bool:
    return admin.site.get_model_admin(model).has_add_permission(request)


def admin_link(request, model, text: str, *, account=None, pk=None, note="", done=False) -> Link:
    """`text`, linked to `model`'s page of `pk` (without one: its add page, for `account`) when
    the user may work there."""
    model_admin = admin.site.get_model_admin(model)
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    if pk is None:
        allowed = model_admin.has_add_permission(request)
        url = reverse(f"{info}_add") + (f"?account={account.pk}" if account else "")
    else:
        allowed = model_admin.has_change_permission(request)
        url = reverse(f"{info}_change", args=[pk])
    return Link(text, url if allowed else "", note, done)


def getting_started(request: HttpRequest) -> dict | None:
    steps = sorted(_steps.values(), key=lambda step: (step.order, step.key))
    required = [step for step in steps if not step.optional]
    if not any(may_add(request, model) for step in required for model in step.adds):
        return None
    accounts = visible_accounts(request.user)
    columns = {}
    for step in steps:
        columns[f"step_{step.key}"] = ExpressionWrapper(step.done(), output_field=BooleanField())
        columns.update(step.columns())
    unfinished = reduce(operator.or_, (Q(**{f"step_{step.key}": False}) for step in required))
    incomplete = accounts.annotate(**columns).filter(unfinished).order_by("name")
    rows = list(incomplete[: SHOWN + 1])
    if not rows:
        if accounts.exists():
            return None  # every account is set up
        return {"checklists": [checklist(request, steps, None)], "more": 0}
    more = incomplete.count() - SHOWN if len(rows) > SHOWN else 0
    return {
        "checklists": [checklist(request, steps, account) for account in rows[:SHOWN]],
        "more": more,
        "accounts_url": reverse("admin:integrations_account_changelist"),
    }


def checklist(request, steps: list[Step], account: Account | None) -> dict:
    items = []
    for number, step in enumerate(steps, start=1):
        done = bool(account is not None and getattr(account, f"step_{step.key}"))
        guide = step.guide(request, account, done)
        items.append({"number": number, "done": done, "optional": step.optional, **vars(guide)})
    return {"account": account, "steps": items}


# --- the steps of this app: the account and its nps.today key, and Dixa's way in ------------


def account_guide(request, account, done) -> Guide:
    title = "An account with its nps.today API key"
    if account is None:
        if may_add(request, Account):
            return Guide(title, [admin_link(request, Account, "Accounts → Add")])
        return Guide(title, note="A superuser adds the account and you to its members.")
    if done:
        return Guide(title)
    link = admin_link(request, Account, "set the account's nps.today API key", pk=account.pk)
    return Guide(title, [link])


def dixa_done():
    keys = ApiKey.objects.filter(account=OuterRef("pk"), revoked_at=None)
    for other in _other_keys:
        keys = keys.exclude(other())
    return Exists(keys)


def dixa_guide(request, account, done) -> Guide:
    title = "A way for Dixa to deliver"
    if account is None or done:
        return Guide(title)
    needs = "recommended; needs PUBLIC_URL" + ("" if settings.PUBLIC_URL else ", not set yet")
    connection = account.getting_started_connection
    if connection is not None:  # made, not connected yet
        needs = f"press Connect / repair on its page; {needs}"
    connect = admin_link(
        request, DixaConnection, "Connect Dixa", account=account, pk=connection, note=needs
    )
    key = admin_link(request, ApiKey, "an API key", account=account, note="for Dixa's webhook form")
    return Guide(title, [connect, key])


register_step(
    "account",
    order=10,
    done=lambda: ~Q(npstoday_api_key=""),
    guide=account_guide,
    adds=(Account,),
)
register_step(
    "dixa",
    order=20,
    done=dixa_done,
    guide=dixa_guide,
    adds=(DixaConnection, ApiKey),
    columns=lambda: {"getting_started_connection": F("dixa_connection__pk")},
)
register_panel("getting_started", "admin/dashboard/getting_started.html", getting_started, order=5)
