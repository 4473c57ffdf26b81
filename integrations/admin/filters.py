"""List filters whose choices are fixed, so that building the filter bar reads nothing: Django's
date_hierarchy (MIN/MAX and DISTINCT-month scans) and value filters (SELECT DISTINCT over the
whole table) cost a full read of a big table on every load."""

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone


def recent_filter(field: str, title: str):
    """Rows of the last day, 7 days or 30 days by `field` (served by its index)."""

    class RecentFilter(admin.SimpleListFilter):
        parameter_name = f"{field}_within"
        periods = {"1": "Last 24 hours", "7": "Last 7 days", "30": "Last 30 days"}

        def lookups(self, request, model_admin):
            return list(self.periods.items())

        def queryset(self, request, queryset):
            if self.value() not in self.periods:
                return queryset
            since = timezone.now() - timedelta(days=int(self.value()))
            return queryset.filter(**{f"{field}__gte": since})

    RecentFilter.title = title
    RecentFilter.__name__ = f"Recent{field.title().replace('_', '')}Filter"
    return RecentFilter


def fixed_choices_filter(field: str, title: str, choices):
    """A filter on `field` offering `choices` ((value, label) pairs) without reading them
    from the table."""

    class FixedChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return list(choices)

        def queryset(self, request, queryset):
            allowed = {str(value) for value, _ in choices}
            if self.value() not in allowed:
                return queryset
            return queryset.filter(**{field: self.value()})

    FixedChoicesFilter.title = title
    FixedChoicesFilter.__name__ = f"{field.title().replace('_', '')}ChoicesFilter"
    return FixedChoicesFilter


def status_class_filter(field: str, title: str):
    """An HTTP status column by class (2xx, 4xx, 5xx, none), each a range on the column."""
    classes = {"2": "2xx", "3": "3xx", "4": "4xx", "5": "5xx"}

    class StatusClassFilter(admin.SimpleListFilter):
        parameter_name = f"{field}_class"

        def lookups(self, request, model_admin):
            return [*classes.items(), ("none", "no answer")]

        def queryset(self, request, queryset):
            value = self.value()
            if value == "none":
                return queryset.filter(**{f"{field}__isnull": True})
            if value in classes:
                low = int(value) * 100
                return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": low + 100})
            return queryset

    StatusClassFilter.title = title
    StatusClassFilter.__name__ = f"{field.title().replace('_', '')}ClassFilter"
    return StatusClassFilter
