"""Filters are django-filter FilterSets: an invalid value, or a parameter the list does not
know (a typo would otherwise return everything), is a 400 naming the parameter."""

import re

import django_filters
from django import forms
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError

from integrations.admin.scoping import visible_accounts
from integrations.models import Account

# Query parameters every list takes besides its filters.
PAGING = {"cursor", "page_size"}
BIGINT = 2**63 - 1
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,20}")


class StrictFilterBackend(filters.DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        refused = refused_parameters(request.query_params, known | PAGING)
        refused.update(
            {name: ["May not be blank."] for name in known if request.query_params.get(name) == ""}
        )
        if refused:
            raise ValidationError(refused)
        return super().filter_queryset(request, queryset, view)


def refused_parameters(params, known) -> dict:
    return {name: ["Unknown parameter."] for name in sorted(set(params) - set(known))}


class StrictBooleanField(forms.NullBooleanField):
    """true or false (or 1 and 0); anything else is an error, never "no filter"."""

    widget = forms.TextInput  # passes the value as sent (Django's select maps others to None)

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "True", "1"):
            return True
        if value in ("false", "False", "0"):
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    # Not django-filter's DRF flavour: its widget, too, reads anything else as "no filter".
    field_class = StrictBooleanField


class WholeNumberField(forms.IntegerField):
    """Digits only: Django's own field also takes "7.0"."""

    def to_python(self, value):
        if isinstance(value, str) and value and not WHOLE_NUMBER.fullmatch(value):
            raise forms.ValidationError("Enter a whole number.", code="invalid")
        return super().to_python(value)


class IntegerFilter(filters.NumberFilter):
    """A whole number within the column's range (a decimal or a huge number is a 400)."""

    field_class = WholeNumberField

    def __init__(self, *args, min_value=-BIGINT, max_value=BIGINT, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)


class AccountChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL refuses NUL in text
            raise forms.ValidationError("Null characters are not allowed.", code="null_characters")
        return super().to_python(value)


class AccountFilter(filters.ModelChoiceFilter):
    """An account of the user's, by slug."""

    field_class = AccountChoiceField

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "An account's slug.")
        super().__init__(queryset=user_accounts, to_field_name="slug", **kwargs)


def user_accounts(request):
    """The choices of an `account` filter: the user's accounts, by slug."""
    return visible_accounts(request.user) if request else Account.objects.none()
