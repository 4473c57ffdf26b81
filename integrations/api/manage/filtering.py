"""Filters are django-filter FilterSets: an invalid value, or a parameter the list does not
know (a typo would otherwise return everything), is a 400 naming the parameter."""

from django import forms
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError

from integrations.admin.scoping import visible_accounts
from integrations.models import Account

# Query parameters every list takes besides its filters.
PAGING = {"cursor", "page_size"}
BIGINT = 2**63 - 1


class StrictFilterBackend(filters.DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        unknown = sorted(set(request.query_params) - known - PAGING)
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        return super().filter_queryset(request, queryset, view)


class IntegerFilter(filters.NumberFilter):
    """A whole number within the column's range (a decimal or a huge number is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value=-BIGINT, max_value=BIGINT, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)


def user_accounts(request):
    """The choices of an `account` filter: the user's accounts, by slug."""
    return visible_accounts(request.user) if request else Account.objects.none()
