from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.models import Account


class Erasure(models.Model):
    """One erasure of a person's data in one account (or a dry run of one): who asked, when,
    how the person was named, and how many rows of each kind were changed. The value itself
    is not kept, only a keyed fingerprint: "was jane@example.com erased?" can be answered, the
    email not read back."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        REQUESTER = "requester", "Dixa requester id"
        CSID = "csid", "Conversation (csid)"

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField("by", max_length=150)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    fingerprint = models.CharField(max_length=64, db_index=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="erasures")
    dry_run = models.BooleanField(default=False)
    conversations = models.PositiveIntegerField(
        default=0, help_text="Conversations (csids) the person was found in."
    )
    counts = models.JSONField(default=dict, help_text="Rows changed (or that would be), per kind.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="erasure_account_at")]

    def __str__(self) -> str:
        verb = "Dry run" if self.dry_run else "Erasure"
        return f"{verb} by {self.kind}, {self.at:%Y-%m-%d %H:%M}"

    @property
    def rows(self) -> int:
        return sum(self.counts.values())
