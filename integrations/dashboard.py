"""The admin's first page is a dashboard of panels that apps register (integrations imports
no app): each panel is a template and a function of the request giving its context."""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable[[HttpRequest], dict | None]  # None: nothing to show to this user
    order: int = 100


_panels: dict[str, Panel] = {}


def register_panel(key: str, template: str, context, *, order: int = 100) -> None:
    _panels[key] = Panel(key=key, template=template, context=context, order=order)


def rendered_panels(request: HttpRequest) -> list[dict]:
    panels = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(request)
        if context is not None:
            panels.append({"template": panel.template, "context": context})
    return panels
