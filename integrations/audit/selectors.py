from django.contrib.contenttypes.models import ContentType

from integrations.audit.models import AuditEntry


def audit_entries_for(obj, *, limit: int = 20):
    """The latest entries that acted on `obj`, newest first."""
    content_type = ContentType.objects.get_for_model(type(obj))
    return (
        AuditEntry.objects.filter(content_type=content_type, targets__object_id=str(obj.pk))
        .order_by("-at", "-id")
        .distinct()[:limit]
    )
