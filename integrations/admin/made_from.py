"""What other apps made from an inbound event (a survey, a P-GAP capture), linked from the
event's admin page. integrations imports no app: each registers a finder at ready()."""

from collections.abc import Callable

from django.utils.html import format_html, format_html_join

from integrations.models import InboundEvent

# finder(event) -> [(text, admin URL)], the event's own account's records only
Finder = Callable[[InboundEvent], list[tuple[str, str]]]
_finders: list[Finder] = []


def register(finder: Finder) -> None:
    if finder not in _finders:
        _finders.append(finder)


def made_from_html(event: InboundEvent) -> str:
    links = [link for finder in _finders for link in finder(event)]
    if not links:
        return "—"
    return format_html(
        "<ul style='margin:0;padding-left:1.2em'>{}</ul>",
        format_html_join("", '<li><a href="{1}">{0}</a></li>', links),
    )
