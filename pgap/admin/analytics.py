"""P-GAP admin: the analytics page (in place of the pairs' list), its drill-down to the
conversations, the CSV export, and the named coaching periods."""

import csv
import io
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.validators import validate_email
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from integrations.admin.scoping import AccountScopedAdmin
from pgap.admin import analytics_charts as charts
from pgap.admin.analytics_form import PgapCellForm, PgapFilterForm
from pgap.models import CoachingPeriod, PgapPair
from pgap.selectors.analytics import EXPORT_FIELDS, pgap_analytics, pgap_pair_rows, pgap_pairs_page

CONVERSATIONS_PER_PAGE = 100
CSV_HEADER = [
    "answered_at",
    "account",
    "mapping",
    "queue_id",
    "csid",
    "agent_email",
    "agent_name",
    "agent_score",
    "customer_score",
    "gap",
    "survey_trigger_id",
    "dixa_url",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The exported text columns (names, emails, queue ids): those a formula could hide in.
TEXT_AT = [
    EXPORT_FIELDS.index(name)
    for name in ("account__slug", "mapping__name", "queue_id", "agent_email", "agent_name")
]


def dixa_url(csid: int) -> str:
    return f"{settings.DIXA_APP_URL}/conversation/{csid}"


def period_label(start, bucket: str) -> str:
    """ISO 8601, as every date in the admin: a week by its first day, a month as YYYY-MM."""
    day = timezone.localtime(start).date()
    return day.isoformat() if bucket == "week" else f"{day:%Y-%m}"


def with_query(request, **changes) -> str:
    """The current query string with `changes` applied (None removes a parameter); the page
    number goes unless it is one of the changes."""
    query = request.GET.copy()
    query.pop("page", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = str(value)
    return "?" + query.urlencode()


@admin.register(PgapPair)
class PgapPairAdmin(AccountScopedAdmin):
    """P-GAP analytics. Pairs are written by the capture and the responses, never here: the
    list is replaced by the page of aggregates, a pair itself is shown read-only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("conversations/", view(self.conversations_view), name=f"{info}_conversations"),
            path("export.csv", view(self.export_view), name=f"{info}_export"),
            *super().get_urls(),
        ]

    def _form(self, request, form_class=PgapFilterForm):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = form_class(request.GET, user=request.user)
        return form, form.selection() if form.is_valid() else None

    def _context(self, request, title: str, form, selection) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "selection": selection,
            "export_url": reverse("admin:pgap_pgappair_export") + with_query(request),
        }

    def changelist_view(self, request, extra_context=None):
        form, selection = self._form(request)
        context = self._context(request, "P-GAP analytics", form, selection)
        if selection is not None:
            context.update(self._analytics_context(request, selection))
        return TemplateResponse(request, "admin/pgap/analytics.html", context)

    def _analytics_context(self, request, selection) -> dict:
        data = pgap_analytics(selection.pairs, bucket=selection.bucket)
        conversations = reverse("admin:pgap_pgappair_conversations")
        # The conversations of one cell: the page's filters and the two scores.
        cell_base = conversations + with_query(request, agent_score=None, customer_score=None)
        cell_base += "" if cell_base.endswith("?") else "&"
        periods = [period_label(s.key["period"], selection.bucket) for s in data.trend]
        return {
            "data": data,
            "agents": [(s, *self._links(request, agent=s.key["agent_email"])) for s in data.agents],
            "mappings": [
                (s, *self._links(request, mapping=s.key["mapping_id"])) for s in data.mappings
            ],
            "trend": list(zip(periods, data.trend, strict=True)),
            "gap_chart": charts.gap_chart(periods, [s.mean_gap for s in data.trend]),
            "nps_chart": charts.nps_chart(
                periods, [s.customer_nps for s in data.trend], [s.agent_nps for s in data.trend]
            ),
            "gap_bars": charts.gap_bars(data.matrix),
            "heat_map": [
                (
                    agent,
                    [
                        (
                            cell,
                            f"{cell_base}agent_score={cell.agent}&customer_score={cell.customer}",
                        )
                        for cell in cells
                    ],
                )
                for agent, cells in charts.heat_map(data.matrix)
            ],
            "scores": list(range(11)),
            "conversations_url": conversations + with_query(request),
        }

    @staticmethod
    def _links(request, **narrowed) -> tuple[str, str]:
        """This page and the conversations narrowed to one agent or mapping ("" when it has
        none: pairs without an agent email or a mapping)."""
        if not all(narrowed.values()):
            return "", ""
        query = with_query(request, **narrowed)
        return query, reverse("admin:pgap_pgappair_conversations") + query

    def conversations_view(self, request):
        """The pairs behind a row, a cell or the whole page, newest first."""
        form, selection = self._form(request, PgapCellForm)
        context = self._context(request, "P-GAP conversations", form, selection)
        if selection is not None:
            page = Paginator(pgap_pairs_page(selection.pairs), CONVERSATIONS_PER_PAGE).get_page(
                request.GET.get("page")
            )
            context.update(
                page=page,
                rows=[(pair, dixa_url(pair.csid), self._survey_url(pair)) for pair in page],
                analytics_url=reverse("admin:pgap_pgappair_changelist")
                + with_query(request, agent_score=None, customer_score=None),
                previous_url=with_query(request, page=str(page.number - 1))
                if page.has_previous()
                else "",
                next_url=with_query(request, page=str(page.number + 1)) if page.has_next() else "",
            )
        return TemplateResponse(request, "admin/pgap/conversations.html", context)

    @staticmethod
    def _survey_url(pair) -> str:
        trigger_id = pair.response.trigger_id
        return reverse("admin:ivr_surveytrigger_change", args=[trigger_id]) if trigger_id else ""

    def export_view(self, request):
        """The selected pairs as CSV, streamed from a server-side cursor."""
        form, selection = self._form(request, PgapCellForm)
        if selection is None:
            context = self._context(request, "P-GAP analytics", form, None)
            return TemplateResponse(request, "admin/pgap/analytics.html", context, status=400)
        response = StreamingHttpResponse(
            csv_lines(pgap_pair_rows(selection.pairs)), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="pgap-{stamp}.csv"'
        return response


def csv_lines(rows, *, per_chunk: int = 500) -> Iterator[str]:
    """CSV text for EXPORT_FIELDS rows, `per_chunk` rows a piece; the header goes at once.
    Text that a spreadsheet would run as a formula is prefixed with a quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    yield _drained(buffer)
    zone = timezone.get_current_timezone()
    csid_at = EXPORT_FIELDS.index("csid")
    pending = 0
    for row in rows:
        cells = list(row)
        cells[0] = row[0].astimezone(zone).isoformat()
        for at in TEXT_AT:
            if cells[at] and cells[at].startswith(FORMULA_START):
                cells[at] = "'" + cells[at]
        cells.append(dixa_url(row[csid_at]))
        writer.writerow(cells)
        pending += 1
        if pending == per_chunk:
            yield _drained(buffer)
            pending = 0
    if pending:
        yield _drained(buffer)


def _drained(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class AgentEmailsField(forms.CharField):
    """A list of agent emails, one per line (or comma-separated)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 50})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value)
        emails = [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]
        for email in emails:
            validate_email(email)
        return list(dict.fromkeys(emails))


class CoachingPeriodForm(forms.ModelForm):
    agent_emails = AgentEmailsField(
        required=False,
        label="Agents",
        help_text="The agents' Dixa emails, one per line. None: every agent.",
    )

    class Meta:
        model = CoachingPeriod
        fields = ("account", "name", "starts_on", "ends_on", "agent_emails")


@admin.register(CoachingPeriod)
class CoachingPeriodAdmin(AccountScopedAdmin):
    form = CoachingPeriodForm
    list_display = ("name", "account", "starts_on", "ends_on", "agents", "analytics")
    list_filter = ("account",)
    list_select_related = ("account",)
    search_fields = ("name",)

    @admin.display(description="agents")
    def agents(self, obj):
        return ", ".join(obj.agent_emails) if obj.agent_emails else "every agent"

    @admin.display(description="P-GAP")
    def analytics(self, obj):
        url = reverse("admin:pgap_pgappair_changelist") + f"?period=coaching&coaching={obj.pk}"
        return format_html('<a href="{}">analytics</a>', url)
