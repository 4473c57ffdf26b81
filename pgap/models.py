"""P-GAP: the agent's prediction of the customer's score (Dixa's `p_gap` conversation
attribute), the customer's answer from nps.today, and the pair of them."""

from django.core.validators import MaxValueValidator
from django.db import models

from integrations.fields import EncryptedTextField, validate_header_value
from integrations.models import Account, ApiKey, InboundEvent
from ivr.models import IvrMapping, SurveyTrigger

SCORE = [MaxValueValidator(10)]


class PgapSetup(models.Model):
    """An account's P-GAP: which Dixa attribute holds the agent's score, which mappings it
    applies to, and the last check of that attribute's definition against Dixa."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="pgap_setup"
    )
    enabled = models.BooleanField(default=True)
    attribute_identifier = models.CharField(
        "Dixa attribute",
        max_length=100,
        default="p_gap",
        help_text="The technical identifier of the conversation custom attribute in Dixa.",
    )
    mappings = models.ManyToManyField(
        IvrMapping,
        blank=True,
        related_name="+",
        help_text="The IVR mappings whose surveys carry the agent's score. None: all of them.",
    )
    dixa_api_token = EncryptedTextField(
        "Dixa API token",
        blank=True,
        validators=[validate_header_value],
        help_text="Used to check the attribute and read conversations. Empty: a mapping's "
        "token. Stored encrypted; only the last 4 are shown.",
    )
    wait_seconds = models.PositiveIntegerField(
        default=60,
        help_text="How long a survey waits for the agent's score before it goes without.",
    )
    # The check against Dixa (GET /v1/custom-attributes).
    attribute_id = models.CharField(max_length=64, blank=True, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    check_passed = models.BooleanField(null=True, editable=False)
    check_problems = models.JSONField(default=list, blank=True, editable=False)
    attribute_options = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The attribute's options as the check found them: {option id: value}.",
    )
    # Optional: the customer's score written back to a Dixa attribute of the admin's choice.
    write_back_attribute_id = models.CharField(
        "write the customer's score to",
        max_length=64,
        blank=True,
        help_text="The id of a Dixa conversation custom attribute. Empty: not written back.",
    )
    write_back_input_type = models.CharField(
        max_length=20,
        blank=True,
        editable=False,
        help_text="Select or Text: how the score is written (from the check, or looked up).",
    )

    class Meta:
        verbose_name = "P-GAP setup"

    def __str__(self) -> str:
        return f"P-GAP setup of {self.account}"


class AgentPrediction(models.Model):
    """The agent's score for one conversation, from a ConversationCustomAttributeUpdated
    event or read from Dixa's API at close. Also the outbox row for that read."""

    class Status(models.TextChoices):
        PENDING = "pending", "To read from Dixa"
        FETCHING = "fetching", "Reading from Dixa"
        CAPTURED = "captured", "Captured"
        MISSING = "missing", "Missing"
        INVALID = "invalid", "Invalid"
        FAILED = "failed", "Dixa could not be read"

    class Source(models.TextChoices):
        EVENT = "event", "Custom attribute event"
        API = "api", "Dixa API at close"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    csid = models.BigIntegerField()
    queue_id = models.CharField(max_length=64, blank=True)
    mapping = models.ForeignKey(
        IvrMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inbound_event = models.ForeignKey(
        InboundEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent_id = models.CharField(max_length=64, blank=True)
    agent_email = models.CharField(max_length=254, blank=True, db_index=True)
    agent_name = models.CharField(max_length=200, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True, validators=SCORE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    reason = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Outbox fields (integrations.outbox) for reading the score from Dixa.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    fetch_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempt_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "csid"], name="uniq_prediction"),
            models.CheckConstraint(condition=models.Q(score__lte=10), name="prediction_0_10"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="prediction_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"P-GAP of conversation {self.csid}: {self.score if self.score is not None else '-'}"


class ResponseHook(models.Model):
    """The URL nps.today posts new responses to. nps.today takes only a target URL, so the
    URL carries a secret of ours: shown once, stored as SHA-256, revocable."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        # Not "nps.today response hook(s)": Django capitalises it in titles (Nps.today).
        verbose_name = "response hook for nps.today"
        verbose_name_plural = "response hooks for nps.today"

    def __str__(self) -> str:
        # Its prefix only: Django's messages name the model already ("The nps.today response
        # hook “prh_…” was added"), as do ours.
        return f"{self.prefix}…"


class ResponseSubscription(models.Model):
    """nps.today's subscription of one campaign's new responses to our hook."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        REMOVED = "removed", "Removed"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    hook = models.ForeignKey(ResponseHook, on_delete=models.PROTECT, related_name="subscriptions")
    campaign_id = models.PositiveIntegerField()
    subscription_id = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "campaign_id"]

    def __str__(self) -> str:
        return f"responses of campaign {self.campaign_id} ({self.get_state_display()})"


class SurveyResponse(models.Model):
    """A customer's answer, as nps.today's new-response webhook sent it. Stored once per
    response id; a later RatingTime replaces an earlier one."""

    class Match(models.TextChoices):
        GUID = "guid", "By the survey's guid"
        CSID = "csid", "By the conversation id in custom"
        EXTERNAL_ID = "external_id", "By the member's external id"
        NONE = "", "Unmatched"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    response_id = models.CharField(max_length=100)
    campaign_id = models.PositiveIntegerField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True, validators=SCORE)
    comment = models.TextField(blank=True)
    rating_time = models.DateTimeField(null=True, blank=True)
    agent_rating = models.PositiveSmallIntegerField(null=True, blank=True, validators=SCORE)
    respondent_email = models.CharField(max_length=254, blank=True, db_index=True)
    respondent_external_id = models.CharField(max_length=200, blank=True)
    csid = models.BigIntegerField(null=True, blank=True)
    trigger = models.ForeignKey(
        SurveyTrigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_by = models.CharField(max_length=12, choices=Match.choices, blank=True)
    payload = models.JSONField(help_text="The webhook's body as nps.today sent it.")
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "response_id"], name="uniq_response"),
        ]

    def __str__(self) -> str:
        return f"response {self.response_id}: {self.rating}"


class PgapPair(models.Model):
    """The agent's prediction beside the customer's answer for one conversation: what the
    analytics read (one row per pair, kept up to date by the capture and the responses)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    csid = models.BigIntegerField()
    prediction = models.OneToOneField(
        AgentPrediction, on_delete=models.CASCADE, related_name="pair"
    )
    response = models.OneToOneField(SurveyResponse, on_delete=models.CASCADE, related_name="pair")
    mapping = models.ForeignKey(
        IvrMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue_id = models.CharField(max_length=64, blank=True)
    agent_email = models.CharField(max_length=254, blank=True)
    agent_name = models.CharField(max_length=200, blank=True)
    agent_score = models.PositiveSmallIntegerField(validators=SCORE)
    customer_score = models.PositiveSmallIntegerField(validators=SCORE)
    gap = models.SmallIntegerField(help_text="agent − customer")
    answered_at = models.DateTimeField(help_text="The customer's RatingTime.")

    class Meta:
        ordering = ["-answered_at"]
        verbose_name = "P-GAP pair"
        verbose_name_plural = "P-GAP analytics"  # the admin shows the pairs as the analytics
        constraints = [
            models.UniqueConstraint(fields=["account", "csid"], name="uniq_pair"),
        ]
        indexes = [
            # Every column the analytics aggregate, after the range they filter on: the page's
            # GROUP BY queries read this index only, never the table (docs/pgap.md).
            models.Index(
                fields=[
                    "account",
                    "answered_at",
                    "agent_score",
                    "customer_score",
                    "gap",
                    "mapping",
                    "queue_id",
                    "agent_email",
                    "agent_name",
                ],
                name="pair_analytics",
            ),
            models.Index(
                fields=["account", "agent_email", "answered_at"], name="pair_agent_answered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_email or 'agent'} {self.agent_score} vs {self.customer_score}"


class CoachingPeriod(models.Model):
    """A named stretch of P-GAP training (like nps.today's training sessions)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()
    agent_emails = models.JSONField(
        default=list, blank=True, help_text="The agents in the period; none: every agent."
    )

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="period_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CardSetup(models.Model):
    """An account's custom card in Dixa (docs/card.md): what the card's answer may carry and
    which of the account's API keys was issued for it."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="card_setup"
    )
    title = models.CharField(
        max_length=100, default="Customer feedback", help_text="The card's title in Dixa."
    )
    personal_page = models.BooleanField(
        "personal page",
        default=True,
        help_text="Pass the assigned agent's email ({{agent_email}}) to nps.today and show "
        "their P-GAP. Off: never, whatever the card's body says (the agent shown is the one "
        "assigned to the conversation, not the one looking at it).",
    )
    history_size = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(50)],
        help_text="How many of the customer's latest surveys the card shows.",
    )
    api_key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The last API key issued from the card's setup page.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Dixa custom card"

    def __str__(self) -> str:
        return f"Dixa card of {self.account}"
