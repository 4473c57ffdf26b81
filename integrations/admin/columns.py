"""Compact list columns, so that a changelist with its filters fits 1280 px unclipped: short
dates that never wrap, long texts cut with the whole text in the tooltip."""

from django.utils import timezone
from django.utils.html import format_html

NOWRAP = "white-space:nowrap"


def when(moment) -> str:
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return format_html('<span style="{}">{}</span>', NOWRAP, local.strftime("%Y-%m-%d %H:%M:%S"))


def cut(text: str, length: int = 60) -> str:
    """`text` up to `length` characters; all of it on hover."""
    if len(text) <= length:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: length - 1])


def tag(text: str, colour: str = "") -> str:
    style = f"{NOWRAP};color:{colour}" if colour else NOWRAP
    return format_html('<span style="{}">{}</span>', style, text)


class WideListMixin:
    """A changelist with many columns and a filter bar: without the app list beside it, its
    columns fit 1280 px (the app list stays one click away, in the breadcrumbs)."""

    def changelist_view(self, request, extra_context=None):
        extra_context = {"is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, extra_context)
