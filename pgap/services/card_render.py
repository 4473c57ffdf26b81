"""The card's templates and their rendering, as Dixa renders a custom card: Liquid over the
JSON the Hook URL answered, its top-level keys as the template's variables."""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from liquid import Environment

TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "pgap" / "card"
# Ours shows our data and embeds the Feedback App below it; nps.today's is its guide's
# template exactly as Dixa gets it (with the Feedback App's address of this platform).
TEMPLATES = {
    "relay": ("Ours: history, P-GAP and the Feedback App", "relay.liquid.html"),
    "npstoday": ("nps.today's: the Feedback App only", "npstoday.liquid.html"),
}
NPSTODAY_APP_URL = "https://feedback.nps.today?operationMode=integration"

_liquid = Environment()


def card_template(name: str) -> str:
    """The template `name` (a key of TEMPLATES) as the admin pastes it into Dixa."""
    source = (TEMPLATE_DIR / TEMPLATES[name][1]).read_text(encoding="utf-8")
    if name == "npstoday":
        source = source.replace(NPSTODAY_APP_URL, settings.NPSTODAY_FEEDBACK_APP_URL)
    return source


def card_render(*, template: str, answer: dict) -> str:
    """`template` rendered with `answer`, as Dixa shows the card."""
    return _liquid.from_string(template).render(**answer)


def card_preview_policy() -> dict:
    """What the Test page's policy must add for the card it previews. The card is rendered
    into a sandboxed srcdoc frame, which takes on the page's Content-Security-Policy: the
    card's own inline scripts (the Feedback App's handshake) and the Feedback App's frame."""
    app = urlsplit(settings.NPSTODAY_FEEDBACK_APP_URL)
    return {"script-src": ["'unsafe-inline'"], "frame-src": [f"{app.scheme}://{app.netloc}"]}
