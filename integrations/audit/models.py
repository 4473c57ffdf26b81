from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from integrations.models import Account


class AuditEntry(models.Model):
    """One run of a named action (resend, revoke, mapping change…) on one account's objects.
    Written by the services and admin actions, never edited: evidence."""

    at = models.DateTimeField(default=timezone.now)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="audit_entries", null=True, blank=True
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(
        "by", max_length=150, help_text="The user's name, or the command that acted."
    )
    action = models.CharField(max_length=60)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    object_count = models.PositiveIntegerField(default=0)
    summary = models.TextField(help_text="What was asked.")
    result = models.TextField(help_text="What came of it.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["account", "-at"], name="audit_account_at"),
            models.Index(fields=["-at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"


class AuditTarget(models.Model):
    """An object an entry acted on, so each object's page lists its own entries."""

    entry = models.ForeignKey(AuditEntry, on_delete=models.CASCADE, related_name="targets")
    object_id = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["object_id"], name="audit_target_object")]

    def __str__(self) -> str:
        return f"#{self.object_id}"
