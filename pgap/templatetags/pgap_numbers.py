"""How the P-GAP page writes its numbers; "—" where a group has no pairs."""

from django import template
from django.utils.html import format_html_join

register = template.Library()
NONE = "—"


@register.filter
def signed(value, places: int = 2):
    """+0.33, −1.00, 0.00: the sign shown unless the value rounds to zero (gaps, NPS)."""
    if value is None:
        return NONE
    rounded = round(value, int(places))
    if rounded == 0:
        return f"{0:.{int(places)}f}"  # neither +0 nor −0
    return f"{rounded:+.{int(places)}f}".replace("-", "−")


@register.filter
def fixed(value, places: int = 2):
    return NONE if value is None else f"{value:.{int(places)}f}"


@register.filter
def percent(share):
    """A share 0 … 1 as a percentage with one decimal."""
    return NONE if share is None else f"{share * 100:.1f} %"


@register.simple_tag
def stats_cells(stats):
    """The numeric cells of one row of a P-GAP table (a tag: a template per row is slow)."""
    values = (
        stats.pairs,
        signed(stats.mean_gap),
        fixed(stats.mean_abs_gap),
        percent(stats.within_one_share),
        percent(stats.over_share),
        percent(stats.under_share),
        signed(stats.customer_nps, 0),
        signed(stats.agent_nps, 0),
    )
    return format_html_join("", '<td class="num">{}</td>', ((v,) for v in values))
