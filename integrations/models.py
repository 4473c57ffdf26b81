import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from integrations.fields import EncryptedTextField, validate_header_value

hex_validator = RegexValidator(
    r"^(?:[0-9a-fA-F]{2})+$", "Dixa signing secrets are hexadecimal (as Dixa shows them)."
)


def new_account_slug() -> str:
    """A placeholder key for accounts made without one (admin and config always set it)."""
    return f"account-{secrets.token_hex(4)}"


class Account(models.Model):
    """A tenant: one customer organisation. Everything else hangs off it."""

    slug = models.SlugField(
        max_length=100,
        unique=True,
        default=new_account_slug,
        help_text="The account's permanent key: apply_config matches accounts by it. Set when "
        "the account is created, never changed.",
    )
    name = models.CharField(max_length=200, unique=True, help_text="The name shown.")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="relay_accounts",
        blank=True,
        help_text="Staff users who may see and edit this account's data in the admin.",
    )
    npstoday_api_key = EncryptedTextField(
        # Not "nps.today API key": Django capitalises a label's first letter (Nps.today).
        "API key for nps.today",
        blank=True,
        validators=[validate_header_value],
        help_text="Printable ASCII, as nps.today shows it. Stored encrypted; only the last 4 "
        "are shown.",
    )
    require_signature = models.BooleanField(
        default=False,
        help_text="Refuse Dixa deliveries that cannot be verified with a signing secret.",
    )
    signature_tolerance_seconds = models.PositiveIntegerField(
        default=300,
        help_text="How far X-DIXA-SIGNATURE's timestamp may be from our clock.",
    )
    require_two_factor = models.BooleanField(
        "require a second factor",
        default=False,
        help_text="Staff of this account (and superusers) sign in to the admin with a code "
        "from an authenticator app (TOTP) besides their password. Once ticked, its members "
        "and every superuser, you included if you are one, are asked to set up a second "
        "factor (or, if they have one, for its code) at their next page.",
    )
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
    is_known_type = models.BooleanField(
        "known event type",
        default=True,
        help_text="A type in Dixa's event catalogue; an unknown one is stored, not handled.",
    )
    event_timestamp = models.DateTimeField(null=True, blank=True)
    csid = models.BigIntegerField(null=True, blank=True, db_index=True)
    queue_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=40, blank=True)
    organization_id = models.CharField(max_length=64, blank=True)
    # The customer, copied at ingest for the customer lookup (email lower-cased).
    requester_email = models.CharField(max_length=254, blank=True)
    requester_phone = models.CharField(max_length=40, blank=True)

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
            models.Index(fields=["account", "event_type"], name="inbound_account_type"),
            # The outbox's two questions: what waits for a worker, and what a worker holds.
            # Both small: rows leave them within moments.
            models.Index(
                fields=["queued_at"], condition=models.Q(status="received"), name="inbound_pending"
            ),
            models.Index(
                fields=["processing_started_at"],
                condition=models.Q(status="processing"),
                name="inbound_claimed",
            ),
            # The admin: its default ordering, the outcome filter, the customer lookup. The id
            # too: the admin orders by (received_at, id), and only an index of the whole
            # ordering keeps a prepared (generic) plan from reading and sorting the table.
            models.Index(fields=["received_at", "id"], name="inbound_received_id"),
            models.Index(
                fields=["outcome", "received_at", "id"], name="inbound_outcome_received_id"
            ),
            # A staff user's list filtered by outcome: their accounts' rows of that outcome,
            # in order, also under the generic plan a prepared statement gets after 5 runs.
            models.Index(
                fields=["account", "outcome", "received_at", "id"],
                name="inbound_account_outcome_recv",
            ),
            models.Index(
                fields=["requester_email"],
                condition=~models.Q(requester_email=""),
                name="inbound_requester_email",
            ),
            models.Index(
                fields=["requester_phone"],
                condition=~models.Q(requester_phone=""),
                name="inbound_requester_phone",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class InboundEventBody(models.Model):
    """What Dixa sent, byte for byte, written once with the event and never updated. Kept
    apart from the event's row, whose processing state changes: each change then copies a
    small row, not the body, and lists of events never read bodies. Retention deletes it."""

    event = models.OneToOneField(
        InboundEvent, on_delete=models.CASCADE, primary_key=True, related_name="body"
    )
    raw_body = models.BinaryField(help_text="The request body, byte for byte.")
    headers = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "inbound event body"
        verbose_name_plural = "inbound event bodies"

    def __str__(self) -> str:
        return f"body of event #{self.pk}"

    @property
    def text(self) -> str:
        return bytes(self.raw_body).decode("utf-8", errors="replace")


class HandlerRun(models.Model):
    """What one subscriber of the event bus made of one event."""

    class Outcome(models.TextChoices):
        HANDLED = "handled", "Handled"
        SKIPPED = "skipped", "Skipped"
        ERROR = "error", "Error"

    event = models.ForeignKey(InboundEvent, on_delete=models.CASCADE, related_name="handler_runs")
    handler = models.CharField(max_length=100)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: to run (again) when the event is processed."
    )

    class Meta:
        ordering = ["event", "handler"]
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="uniq_handler_run"),
        ]

    def __str__(self) -> str:
        return f"{self.handler}: {self.get_outcome_display() or 'to run'}"


class RejectedDelivery(models.Model):
    """A request from an authenticated caller that we refused, kept raw for inspection."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="rejected_deliveries"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        indexes = [
            models.Index(fields=["api_key", "received_at"], name="rejected_key_received"),
            models.Index(fields=["received_at"], name="rejected_received"),
        ]

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason[:60]}"

    @property
    def body_text(self) -> str:
        return bytes(self.raw_body).decode("utf-8", errors="replace")


class DixaConnection(models.Model):
    """The account's webhook subscription in Dixa, made and kept through Dixa's API: what we
    asked Dixa for, what Dixa last said, and the key and secret it uses."""

    class State(models.TextChoices):
        NOT_CONNECTED = "not_connected", "Not connected"
        CONNECTED = "connected", "Connected"
        DRIFTED = "drifted", "Changed in Dixa (repair)"
        MISSING = "missing", "Deleted in Dixa (repair)"
        DISABLED = "disabled", "Disabled in Dixa"
        FAILED = "failed", "Dixa refused (see detail)"
        DISCONNECTED = "disconnected", "Disconnected"

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="dixa_connection"
    )
    api_token = EncryptedTextField(
        "Dixa API token",
        blank=True,
        validators=[validate_header_value],
        help_text="An admin token of the Dixa organisation, for the webhook-subscription API. "
        "Stored encrypted; only the last 4 are shown.",
    )
    subscription_id = models.CharField(max_length=64, blank=True, editable=False)
    subscription_url = models.URLField(max_length=500, blank=True, editable=False)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.NOT_CONNECTED, editable=False
    )
    detail = models.TextField(blank=True, editable=False, help_text="What the last step found.")
    events = models.JSONField(default=list, blank=True, editable=False)
    queue_ids = models.JSONField(default=list, blank=True, editable=False)
    enabled = models.BooleanField(default=False, editable=False, help_text="As Dixa last said.")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    retiring_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    retiring_since = models.DateTimeField(null=True, blank=True, editable=False)
    signing_secret = models.ForeignKey(
        SigningSecret,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    retiring_secret = models.ForeignKey(
        SigningSecret,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    retiring_subscription_id = models.CharField(max_length=64, blank=True, editable=False)
    sync_due_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A queue-filter sync waits until then."
    )
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_pulled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # An admin's action (Connect, Rotate, …) queued and not finished yet: the page says so
    # and reloads itself until the worker is done (integrations/services/dixa_actions.py).
    action_requested = models.CharField(max_length=32, blank=True, editable=False)
    action_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Dixa connection"
        indexes = [
            models.Index(
                fields=["sync_due_at"],
                condition=models.Q(sync_due_at__isnull=False),
                name="dixa_sync_due",
            )
        ]

    def __str__(self) -> str:
        return f"Dixa connection of {self.account}"


class DixaDeliveryStatus(models.Model):
    """Dixa's last delivery per event type, as its delivery-status API reports it."""

    connection = models.ForeignKey(
        DixaConnection, on_delete=models.CASCADE, related_name="delivery_statuses"
    )
    event_type = models.CharField(max_length=100)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_success = models.BooleanField(null=True)
    last_response_code = models.IntegerField(null=True, blank=True)
    last_response_text = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_reason = models.TextField(blank=True)
    pulled_at = models.DateTimeField()

    class Meta:
        ordering = ["connection", "event_type"]
        verbose_name = "Dixa delivery status"
        verbose_name_plural = "Dixa delivery statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_type"], name="uniq_dixa_delivery_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type}: {self.last_response_code or 'no recent delivery'}"


class DixaDeliveryLog(models.Model):
    """One delivery Dixa recorded (its log), kept once, and whether we have the event."""

    class Reconciliation(models.TextChoices):
        RECORDED = "recorded", "Recorded here"
        MISSING = "missing", "Accepted by us per Dixa, not recorded here"
        FAILED = "failed", "Failed (Dixa's reason)"
        UNREADABLE = "unreadable", "Payload without an event id"

    connection = models.ForeignKey(
        DixaConnection, on_delete=models.CASCADE, related_name="delivery_logs"
    )
    subscription_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=100)
    event_id = models.CharField(max_length=255, blank=True)
    delivered_at = models.DateTimeField()
    success = models.BooleanField()
    response_code = models.IntegerField(null=True, blank=True)
    response_text = models.TextField(blank=True)
    reconciliation = models.CharField(max_length=12, choices=Reconciliation.choices)
    pulled_at = models.DateTimeField()

    class Meta:
        ordering = ["-delivered_at"]
        verbose_name = "Dixa delivery log"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_type", "event_id", "delivered_at", "response_code"],
                name="uniq_dixa_delivery_log",
            )
        ]
        indexes = [
            models.Index(fields=["connection", "reconciliation"], name="dixa_log_reconciliation")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} {self.response_code}"


class ManagementToken(models.Model):
    """A person's token for the management API (/api/v1/). It acts as its user, scoped to the
    user's accounts. Shown once when issued; only its SHA-256 and a prefix are stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="management_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# Kept in their own modules, loaded with the app's models.
from integrations.alerts.models import AlertIncident, AlertSettings  # noqa: E402, F401
from integrations.audit.models import AuditEntry, AuditTarget  # noqa: E402, F401
from integrations.erasure.models import Erasure  # noqa: E402, F401
