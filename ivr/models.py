import uuid

from django.core.validators import MaxValueValidator
from django.db import models

from integrations.fields import EncryptedTextField, validate_header_value
from integrations.models import Account, InboundEvent

# Channels as Dixa's webhooks spell them.
CHANNELS = [
    ("EMAIL", "Email"),
    ("WIDGET_CHAT", "Chat (widget)"),
    ("PSTN_PHONE", "Phone"),
    ("CALLBACK", "Callback"),
    ("VOICEMAIL", "Voicemail"),
    ("SMS", "SMS"),
    ("WHATSAPP", "WhatsApp"),
    ("MESSENGER", "Messenger"),
    ("FACEBOOK_MESSENGER", "Facebook Messenger"),
    ("TWITTER", "Twitter"),
    ("CONTACT_FORM", "Contact form"),
]


class IvrMapping(models.Model):
    """A row of nps.today's IVR screen: a Dixa queue feeds an nps.today campaign,
    plus the rules that screen never had."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ivr_mappings")
    name = models.CharField(max_length=200)
    # Labels never start with "nps.today": Django would capitalise it (Nps.today).
    campaign_id = models.PositiveIntegerField("campaign in nps.today")
    campaign_name = models.CharField(max_length=200, blank=True, editable=False)
    queue_id = models.CharField("Dixa queue", max_length=64)
    queue_name = models.CharField(max_length=200, blank=True, editable=False)
    dixa_api_token = EncryptedTextField(
        "Dixa API token",
        blank=True,
        validators=[validate_header_value],
        help_text="Printable ASCII, as Dixa shows it. Stored encrypted; only the last 4 are shown.",
    )
    enabled = models.BooleanField(default=True)

    # Survey rules. An assigned agent is always required, and abandoned conversations are
    # never surveyed; these are the ones an admin sets.
    channels = models.JSONField(
        default=list, blank=True, help_text="Survey only these channels; none ticked: all."
    )
    excluded_tags = models.JSONField(
        default=list, blank=True, help_text="No survey when the conversation has any of these tags."
    )
    delay_minutes = models.PositiveIntegerField(
        default=0, help_text="Wait this long after the close before sending (e.g. 1440 = 24 h)."
    )
    quarantine_days = models.PositiveIntegerField(
        default=0,
        help_text="No second survey to the same email or phone within this many days, across "
        "all of the account's mappings. 0: off.",
    )
    once_per_conversation = models.BooleanField(
        default=True,
        help_text="One survey per conversation and campaign, even when it is reopened and "
        "closed again.",
    )
    sample_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)], help_text="Survey this share of closes."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "name"]
        verbose_name = "IVR mapping"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "queue_id", "campaign_id"], name="uniq_ivr_queue_campaign"
            )
        ]
        indexes = [models.Index(fields=["account", "queue_id"], name="ivr_account_queue")]

    def __str__(self) -> str:
        return self.name


class SurveyTrigger(models.Model):
    """The outbox row: one campaign member to add in nps.today, and where that stands."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        HELD = "held", "Held (nps.today key disabled)"
        FAILED = "failed", "Dead letter"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_triggers")
    mapping = models.ForeignKey(IvrMapping, on_delete=models.CASCADE, related_name="triggers")
    inbound_event = models.ForeignKey(
        InboundEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="triggers"
    )
    guid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dedupe_key = models.CharField(max_length=200, editable=False)
    campaign_id = models.PositiveIntegerField()
    csid = models.BigIntegerField(null=True, blank=True)
    respondent_email = models.CharField(max_length=254, blank=True, db_index=True)
    respondent_phone = models.CharField(max_length=40, blank=True, db_index=True)
    payload = models.JSONField(help_text="The campaign member body sent to nps.today.")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    sending_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "dedupe_key"], name="uniq_trigger_dedupe"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="trigger_due"),
            models.Index(fields=["mapping", "finished_at"], name="trigger_mapping_finished"),
            # Matching nps.today's responses (and the customer lookup) by conversation.
            models.Index(fields=["account", "csid"], name="trigger_account_csid"),
            # The admin: its default ordering, the status filter, an exact csid search.
            models.Index(fields=["created_at", "id"], name="trigger_created_id"),
            models.Index(fields=["status", "created_at", "id"], name="trigger_status_created_id"),
            models.Index(fields=["csid"], name="trigger_csid"),
        ]

    def __str__(self) -> str:
        return f"survey {self.guid} ({self.get_status_display()})"


class DeliveryAttempt(models.Model):
    """One HTTP try at nps.today, written before the request goes out."""

    class Outcome(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        SUCCESS = "success", "Success"
        RETRY = "retry", "Failed, will retry"
        FAILED = "failed", "Failed, final"
        INTERRUPTED = "interrupted", "Interrupted (worker lost)"

    trigger = models.ForeignKey(SurveyTrigger, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="When this try was due; created_at is when it started."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    task_id = models.CharField(max_length=64, blank=True)
    request_url = models.URLField(max_length=500)
    request_headers = models.JSONField(default=dict)
    request_body = models.JSONField()
    response_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.IN_FLIGHT)

    class Meta:
        ordering = ["trigger", "number"]

    def __str__(self) -> str:
        return f"try {self.number}"


class NpsTodayDelivery(models.Model):
    """How an account's surveys are delivered to nps.today (the retry policy, Dixa's own by
    default) and the health of its nps.today key (auto-disabled after a failure streak).
    Kept apart from Account, so a failed try never locks the tenant's row."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="npstoday_delivery"
    )
    max_attempts = models.PositiveSmallIntegerField(
        "tries per survey",
        default=5,
        help_text="How often a survey is sent to nps.today before it becomes a dead letter "
        "(default 5, as Dixa retries its own webhooks).",
    )
    retry_seconds = models.PositiveIntegerField(
        "retry spacing (s)",
        default=60,
        help_text="Seconds from a failed try to the next; a 429 with a Retry-After waits "
        "that long instead (default 60, as Dixa retries its own webhooks).",
    )
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    failure_streak_started_at = models.DateTimeField(null=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = "delivery to nps.today"
        verbose_name_plural = "delivery to nps.today"

    def __str__(self) -> str:
        return f"delivery to nps.today for {self.account}"


class DailyCount(models.Model):
    """What one day brought, per account and mapping: the dashboard's numbers, counted by
    beat (ivr.services.daily_counts) so the dashboard never scans the big tables."""

    class Metric(models.TextChoices):
        CLOSES = "closes", "Closes"
        SURVEYS = "surveys", "Surveys made"
        DELIVERED = "delivered", "Surveys delivered"
        SKIPPED = "skipped", "Skipped"
        DEAD = "dead", "Dead letters"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    mapping = models.ForeignKey(
        IvrMapping, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    day = models.DateField()
    metric = models.CharField(max_length=10, choices=Metric.choices)
    reason = models.CharField(max_length=40, blank=True)
    count = models.PositiveIntegerField()
    counted_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["day", "account"], name="daily_count_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.count}"
