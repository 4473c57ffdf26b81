"""The P-GAP page's filters, read from the query string: what they select becomes a
PairFilter. Choices are limited to the user's accounts; bad input is a form error."""

from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.utils import timezone

from integrations.admin.scoping import scoped, visible_accounts
from ivr.models import IvrMapping
from pgap.models import CoachingPeriod
from pgap.selectors.analytics import PairFilter, day_start

LAST_DAYS = {"7": 7, "30": 30, "90": 90}
PERIODS = [
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("week", "Week"),
    ("month", "Month"),
    ("custom", "Custom range"),
    ("coaching", "Coaching period"),
]
DEFAULT_PERIOD = "90"
MAX_DAYS = 3660  # ten years: the trend stays within its periods by month
MAX_WEEKS = 104  # a longer range is drawn by month
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)  # far from date.min and date.max


class DefaultedChoiceField(forms.ChoiceField):
    """A choice that, left out of the query, is its `initial`: the page shows the default,
    and so does the form, so that Show without changes keeps the same figures (a bound
    form would otherwise render the empty value, i.e. the browser's first option)."""

    def bound_data(self, data, initial):
        return initial if data in self.empty_values else data

    def to_python(self, value):
        value = super().to_python(value)
        return value or self.initial


@dataclass(frozen=True)
class Selection:
    """What the filters chose: the pairs, how the trend is bucketed, and a label."""

    pairs: PairFilter
    bucket: str
    label: str


class PgapFilterForm(forms.Form):
    account = forms.ModelChoiceField(queryset=None, required=False, empty_label="All my accounts")
    mapping = forms.ModelChoiceField(queryset=None, required=False, empty_label="All mappings")
    agent = forms.CharField(
        required=False,
        max_length=254,
        label="Agent email",
        help_text="the whole address (case does not matter)",
    )
    period = DefaultedChoiceField(choices=PERIODS, required=False, initial=DEFAULT_PERIOD)
    week = forms.RegexField(
        regex=r"^\d{4}-W\d{2}$",
        required=False,
        widget=forms.TextInput(attrs={"type": "week"}),
        error_messages={"invalid": "Enter a week as YYYY-Www, e.g. 2025-W07."},
    )
    month = forms.RegexField(
        regex=r"^\d{4}-\d{2}$",
        required=False,
        widget=forms.TextInput(attrs={"type": "month"}),
        error_messages={"invalid": "Enter a month as YYYY-MM."},
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="inclusive"
    )
    coaching = forms.ModelChoiceField(
        queryset=None, required=False, label="Coaching period", empty_label="—"
    )
    by = DefaultedChoiceField(
        choices=[("week", "Week"), ("month", "Month")],
        required=False,
        label="Trend by",
        initial="week",
    )

    def __init__(self, *args, user, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.visible = visible_accounts(user)
        self.today = today or timezone.localdate()
        self.fields["account"].queryset = self.visible
        self.fields["mapping"].queryset = scoped(
            IvrMapping.objects.select_related("account"), user
        ).order_by("account__name", "name")
        self.fields["coaching"].queryset = scoped(
            CoachingPeriod.objects.select_related("account"), user
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        account, mapping, coaching = data.get("account"), data.get("mapping"), data.get("coaching")
        period = data.get("period") or DEFAULT_PERIOD
        if mapping and account and mapping.account_id != account.pk:
            self.add_error("mapping", "This mapping belongs to another account.")
        if period == "coaching":
            if coaching is None:
                self.add_error("coaching", "Choose a coaching period.")
            elif account and coaching.account_id != account.pk:
                self.add_error("coaching", "This coaching period belongs to another account.")
        try:
            first, last, label = self._days(period, data)
            data["range"] = (first, last, label, day_start(first), day_start(last + timedelta(1)))
        except (ValueError, OverflowError) as exc:
            raise forms.ValidationError(f"No such period ({exc}).") from exc
        if first > last:
            self.add_error("end", "The end is before the start.")
        elif first < EARLIEST or last > LATEST:
            self.add_error(None, f"Choose days from {EARLIEST.year} to {LATEST.year}.")
        elif (last - first).days >= MAX_DAYS:
            self.add_error("start", "Choose at most ten years.")
        return data

    def _days(self, period: str, data: dict) -> tuple[date, date, str]:
        """The first and last day the period covers, and its label."""
        if period in LAST_DAYS:
            first = self.today - timedelta(days=LAST_DAYS[period] - 1)
            return first, self.today, dict(PERIODS)[period]
        if period == "week":
            year, week = self.today.isocalendar()[:2]
            if data.get("week"):
                year, week = (int(part) for part in data["week"].split("-W"))
            first = date.fromisocalendar(year, week, 1)
            return first, first + timedelta(days=6), f"Week {week} of {year}"
        if period == "month":
            first = self.today.replace(day=1)
            if data.get("month"):
                year, month = (int(part) for part in data["month"].split("-"))
                first = date(year, month, 1)
            following = (first + timedelta(days=31)).replace(day=1)
            return first, following - timedelta(days=1), first.strftime("%B %Y")
        if period == "coaching":
            coaching = data.get("coaching")
            if coaching is None:
                return self.today, self.today, "Coaching period"
            return coaching.starts_on, coaching.ends_on, coaching.name
        first = data.get("start") or self.today - timedelta(days=29)
        return first, data.get("end") or self.today, "Custom range"

    def selection(self) -> Selection:
        """The valid form's choice (call after is_valid())."""
        data = self.cleaned_data
        first, last, label, start, end = data["range"]
        coaching = data.get("coaching") if data.get("period") == "coaching" else None
        account = data.get("account") or (coaching.account if coaching else None)
        accounts = [account.pk] if account else list(self.visible.values_list("pk", flat=True))
        pairs = PairFilter(
            accounts=accounts,
            start=start,
            end=end,
            mapping_id=data["mapping"].pk if data.get("mapping") else None,
            agent_email=(data.get("agent") or "").strip().lower() or None,  # stored lower-case
            agent_emails=tuple(coaching.agent_emails) if coaching else (),
            agent_score=data.get("agent_score"),
            customer_score=data.get("customer_score"),
        )
        bucket = data.get("by") or "week"
        if bucket == "week" and (last - first).days >= 7 * MAX_WEEKS:
            bucket = "month"
        span = f"{first.isoformat()} – {last.isoformat()}"
        return Selection(pairs=pairs, bucket=bucket, label=f"{label}, {span}")


class PgapCellForm(PgapFilterForm):
    """The filters plus one cell of the matrix: the drill-down and the CSV export."""

    agent_score = forms.IntegerField(required=False, min_value=0, max_value=10)
    customer_score = forms.IntegerField(required=False, min_value=0, max_value=10)
