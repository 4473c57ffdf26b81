"""Tenant isolation in the admin: a staff user sees only their accounts' objects, in lists,
detail pages, list filters, foreign-key choices, autocompletes and actions. Superusers see
everything. Models are tied to their account by following foreign keys (see account_path)."""

import logging
from functools import cache

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DataError, transaction
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP

from integrations.admin.audit_trail import AuditTrailMixin
from integrations.admin.confirm import PinnedSelectionMixin
from integrations.admin.masked_secrets import MaskedSecrets
from integrations.admin.pickers import TwoBoxPickers
from integrations.models import Account

logger = logging.getLogger(__name__)
# What Django's list filters and date hierarchy append to a field path.
FILTER_LOOKUPS = {"exact", "isnull", "gte", "lt", "year", "month", "day", "id__exact"}
# How many foreign keys account_path follows, at most (DeliveryAttempt → trigger → account).
MAX_HOPS = 3


def visible_accounts(user):
    """The accounts `user` may see in the admin."""
    if user.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(members=user)


@cache
def account_path(model) -> str | None:
    """The lookup from `model` to its Account ("" for Account itself), following foreign keys
    (shortest path first); None when the model does not hang off an account."""
    paths = [(model, "")]
    for _ in range(MAX_HOPS + 1):
        next_paths = []
        for current, path in paths:
            if current is Account:
                return path
            for field in current._meta.concrete_fields:
                if field.many_to_one or field.one_to_one:
                    step = f"{path}__{field.name}" if path else field.name
                    next_paths.append((field.related_model, step))
        paths = next_paths
    return None


def account_fields(model) -> list:
    """The fields of `model` a form chooses an account with (its foreign keys to Account)."""
    return [
        field
        for field in model._meta.concrete_fields
        if (field.many_to_one or field.one_to_one)
        and field.related_model is Account
        and field.editable
    ]


def account_scope(model, user) -> Q:
    """A filter on `model` keeping the rows of `user`'s accounts (nothing, when the model
    does not hang off an account and the user is not a superuser)."""
    if user.is_superuser:
        return Q()
    path = account_path(model)
    if path is None:
        return Q(pk__in=[])
    # The ids as a list, not a join through the members table: the planner then keeps a
    # big table's ordering index (a join made it read and sort all of the account's rows).
    ids = list(Account.objects.filter(members=user).values_list("pk", flat=True))
    return Q(**{f"{path}__in" if path else "pk__in": ids})


def scoped(queryset, user):
    """`queryset` restricted to the rows of `user`'s accounts."""
    if user.is_superuser:
        return queryset
    return queryset.filter(account_scope(queryset.model, user))


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-field filter that offers only the related objects of the user's accounts."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        related = scoped(field.related_model._default_manager.all(), request.user)
        if ordering:
            related = related.order_by(*ordering)
        target = field.target_field.attname
        return [(getattr(obj, target), str(obj)) for obj in related]


def scoped_list_filter(model, list_filter) -> tuple:
    """`list_filter` with every relation named by its field path filtered by ScopedRelatedFilter.
    A plain field across a relation ("mapping__name") is refused: Django would list its
    values from every account."""
    scoped_filters = []
    for item in list_filter:
        if isinstance(item, str):
            field = admin.utils.get_fields_from_path(model, item)[-1]
            if field.is_relation:
                item = (item, ScopedRelatedFilter)
            elif LOOKUP_SEP in item:
                raise ImproperlyConfigured(
                    f"{model.__name__} list_filter {item!r}: values across a relation are not "
                    "scoped to the user's accounts; filter by the relation itself"
                )
        scoped_filters.append(item)
    return tuple(scoped_filters)


def filter_parameters(model_admin, request) -> set[str]:
    """The field paths (and parameter names) of a changelist's filters and date hierarchy."""
    names = {model_admin.date_hierarchy} if model_admin.date_hierarchy else set()
    for item in model_admin.get_list_filter(request):
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, tuple | list):
            names.add(item[0])
        else:
            names.add(item.parameter_name)
    return names


def is_filter_lookup(lookup: str, names: set[str]) -> bool:
    """Whether a list filter or the date hierarchy makes `lookup`, e.g. status__exact,
    mapping__id__exact, created_at__gte, received_at__year."""
    for name in names:
        if lookup == name:
            return True
        rest = lookup.removeprefix(f"{name}{LOOKUP_SEP}")
        if rest != lookup and rest in FILTER_LOOKUPS:
            return True
    return False


def formfield_queryset(db_field, request):
    """The choices of a relation's form field: the related objects of the user's accounts."""
    return scoped(db_field.related_model._default_manager.all(), request.user)


class ScopedChoices:
    """Relation fields of forms (and inlines) offer only the objects of the user's accounts."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", formfield_queryset(db_field, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", formfield_queryset(db_field, request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedInline(MaskedSecrets, ScopedChoices):
    """Inlines are reached through a scoped parent; their own relation choices are scoped
    too, and their secrets masked for who may only view."""


class AccountScopedAdmin(
    PinnedSelectionMixin,
    AuditTrailMixin,
    MaskedSecrets,
    TwoBoxPickers,
    ScopedChoices,
    admin.ModelAdmin,
):
    """Scopes the list, detail pages, filters, choices and actions to the user's accounts;
    a malformed filter value in the query string shows the list's error page, never a 500.
    Each change page ends with the object's audit trail; every save is audited. Actions run
    on the rows selected, by primary key (integrations.admin.confirm.pinned)."""

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)

    def get_changeform_initial_data(self, request):
        """An add form's account is chosen already when the user can choose only one (the
        query string's choice, e.g. ?account=3, stands). For a record an account has one of
        (a Dixa connection, P-GAP setup…), an account that has it already is no choice."""
        initial = super().get_changeform_initial_data(request)
        for db_field in account_fields(self.model):
            if db_field.name in initial:
                continue
            choices = self.formfield_for_foreignkey(db_field, request).queryset
            if db_field.unique:
                taken = self.model._default_manager.values(db_field.attname)
                choices = choices.exclude(pk__in=taken)
            only = list(choices.values_list("pk", flat=True)[:2])
            if len(only) == 1:
                initial[db_field.name] = only[0]
        return initial

    def get_list_filter(self, request):
        return scoped_list_filter(self.model, super().get_list_filter(request))

    def get_changelist_instance(self, request):
        try:
            with transaction.atomic():  # a refused query must not break the request's others
                return super().get_changelist_instance(request)
        except (ValueError, OverflowError, ValidationError, DataError) as exc:
            # A value the lookup cannot take; Django catches most, not all (e.g. year=9999).
            logger.info("admin list %s: refused %r (%s)", self.opts.label, request.GET, exc)
            raise IncorrectLookupParameters(exc) from exc

    def lookup_allowed(self, lookup, value, request):
        """Only the lookups the list's own filters make, and one row by its primary key (a
        record's page shows its row in the list so): the query string cannot run arbitrary
        lookups (regex, range, other fields) against the database."""
        return super().lookup_allowed(lookup, value, request) and (
            is_filter_lookup(lookup, filter_parameters(self, request))
            or lookup == f"{self.opts.pk.attname}{LOOKUP_SEP}exact"
        )
