from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.db.models import Q

from integrations.fields import EncryptedTextField
from integrations.models import Account


class AlertSettings(models.Model):
    """Where an account's alerts go, and the thresholds of its built-in conditions."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="alert_settings"
    )
    email_recipients = models.TextField(
        blank=True, help_text="Email addresses, one a line (sent with Django's mail settings)."
    )
    webhook_url = EncryptedTextField(
        "webhook URL",
        blank=True,
        validators=[URLValidator(schemes=["https", "http"])],
        help_text="A Slack-compatible incoming webhook: we POST JSON with a `text` field. "
        "Stored encrypted (the URL is the secret).",
    )
    dead_letters_per_hour = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="Alert at this many an hour."
    )
    failure_rate_percent = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Alert when more than this share of an hour's tries at nps.today failed.",
    )
    signature_failures_per_hour = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1)],
        help_text="Alert at this many deliveries refused for their signature in an hour.",
    )
    silent_hours = models.PositiveSmallIntegerField(
        default=6,
        validators=[MinValueValidator(1)],
        help_text="Alert when no Dixa delivery arrived for this long while the account had "
        "traffic in the 7 days before.",
    )

    class Meta:
        verbose_name = "alert settings"
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"alerts of {self.account}"

    @property
    def recipients(self) -> list[str]:
        return [line.strip() for line in self.email_recipients.splitlines() if line.strip()]


class AlertIncident(models.Model):
    """A condition that held for an account, from the evaluation that found it to the one that
    no longer did. Notified once when opened and once when resolved."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alert_incidents")
    condition = models.CharField(max_length=60)
    subject = models.CharField(max_length=200, blank=True)
    detail = models.TextField()
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_notified_at = models.DateTimeField(null=True, blank=True)
    notify_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "condition", "subject"],
                condition=Q(resolved_at=None),
                name="uniq_open_alert_incident",
            )
        ]
        indexes = [models.Index(fields=["opened_at"], name="alert_incident_opened")]

    def __str__(self) -> str:
        return f"{self.condition} ({self.account})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
