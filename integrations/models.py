from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from integrations.fields import EncryptedTextField

hex_validator = RegexValidator(
    r"^(?:[0-9a-fA-F]{2})+$", "Dixa signing secrets are hexadecimal (as Dixa shows them)."
)


class Account(models.Model):
    """A tenant: one customer organisation. Everything else hangs off it."""

    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="relay_accounts",
        blank=True,
        help_text="Staff users who may see and edit this account's data in the admin.",
    )
    npstoday_api_key = EncryptedTextField(
        "nps.today API key", blank=True, help_text="Stored encrypted; only the last 4 are shown."
    )
    require_signature = models.BooleanField(
        default=False,
        help_text="Refuse Dixa deliveries that cannot be verified with a signing secret.",
    )
    signature_tolerance_seconds = models.PositiveIntegerField(
        default=300,
        help_text="How far X-DIXA-SIGNATURE's timestamp may be from our clock.",
    )
    # The relay's retry policy (Dixa's own by default) and the nps.today key's health.
    npstoday_max_attempts = models.PositiveSmallIntegerField(
        "nps.today tries", default=5, help_text="Tries per survey before it becomes a dead letter."
    )
    npstoday_retry_seconds = models.PositiveIntegerField(
        "nps.today retry spacing (s)", default=60, help_text="Wait between tries (Dixa: 60 s)."
    )
    npstoday_failure_streak = models.PositiveIntegerField(default=0, editable=False)
    npstoday_failure_streak_started_at = models.DateTimeField(null=True, editable=False)
    npstoday_disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    npstoday_disabled_reason = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A key we issue. Shown once when created; only its SHA-256 and a prefix are stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SigningSecret(models.Model):
    """A Dixa webhook secret (hex). Several may be active at once to rotate without downtime."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="signing_secrets")
    label = models.CharField(max_length=100, blank=True)
    secret = EncryptedTextField(validators=[hex_validator])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label or f"signing secret #{self.pk}"


class InboundEvent(models.Model):
    """One Dixa delivery, stored before we acknowledge it. Unique per (account, event id)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        HANDLED = "handled", "Handled"
        SKIPPED = "skipped", "Skipped"
        NO_HANDLER = "no_handler", "Recorded (no handler)"
        UNKNOWN_TYPE = "unknown_type", "Recorded (unknown type)"
        ERROR = "error", "Error"

    class Verification(models.TextChoices):
        VERIFIED = "verified", "Signature verified"
        UNVERIFIED = "unverified", "Unverified (no signing secret)"

    # No index of its own: uniq_inbound_event (account, event_id) serves lookups by account,
    # and every index is one more write on the ingest path.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="inbound_events", db_index=False
    )
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(
        max_length=100, help_text="Dixa's subscription name, e.g. ConversationClosed."
    )
    event_fqn = models.CharField(max_length=100, help_text="As sent, e.g. CONVERSATION_CLOSED.")
    is_known_type = models.BooleanField(default=True)
    event_timestamp = models.DateTimeField(null=True, blank=True)
    csid = models.BigIntegerField(null=True, blank=True, db_index=True)
    queue_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=40, blank=True)
    organization_id = models.CharField(max_length=64, blank=True)

    raw_body = models.BinaryField(help_text="The request body, byte for byte.")
    headers = models.JSONField(default=dict, blank=True)
    verification = models.CharField(max_length=12, choices=Verification.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    outcome = models.CharField(max_length=14, choices=Outcome.choices, blank=True)
    outcome_reason = models.TextField(blank=True)
    processing_attempts = models.PositiveIntegerField(default=0)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the event was last handed to a worker."
    )

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "event_id"], name="uniq_inbound_event"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status_received"),
            models.Index(fields=["account", "event_type"], name="inbound_account_type"),
            # What the dispatcher polls for: received, never handed to a worker. Small,
            # since rows leave it within a poll interval.
            models.Index(
                fields=["id"],
                condition=models.Q(status="received", queued_at=None),
                name="inbound_awaiting_dispatch",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    @property
    def body_text(self) -> str:
        return bytes(self.raw_body).decode("utf-8", errors="replace")


class RejectedDelivery(models.Model):
    """A request from an authenticated caller that we refused, kept raw for inspection."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="rejected_deliveries"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField()
    reason = models.TextField()
    raw_body = models.BinaryField()
    body_size = models.PositiveIntegerField()
    body_truncated = models.BooleanField(default=False)
    headers = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "rejected deliveries"

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason[:60]}"

    @property
    def body_text(self) -> str:
        return bytes(self.raw_body).decode("utf-8", errors="replace")
