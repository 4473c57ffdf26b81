"""Re-encrypting stored secrets after a FIELD_ENCRYPTION_KEYS rotation."""

from django.apps import apps
from django.db import transaction

from integrations.fields import EncryptedTextField


def encrypted_fields() -> list[tuple[type, list[str]]]:
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def secrets_reencrypt() -> int:
    """Rewrite every encrypted value with the first (newest) key. Returns rows rewritten."""
    rewritten = 0
    for model, names in encrypted_fields():
        with transaction.atomic():
            for row in model.objects.select_for_update().only("pk", *names):
                values = {name: getattr(row, name) for name in names}
                # update() runs get_prep_value, which encrypts with the newest key.
                model.objects.filter(pk=row.pk).update(**values)
                rewritten += 1
    return rewritten
