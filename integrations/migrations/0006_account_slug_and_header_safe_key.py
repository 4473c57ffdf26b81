import django.utils.text
from django.db import migrations, models

import integrations.fields
import integrations.models


def derive_slugs(apps, schema_editor):
    """Existing accounts get the slug of their name (what apply_config derives for an entry
    without one), with -2, -3 … when two names make the same slug; the oldest keeps it."""
    Account = apps.get_model("integrations", "Account")
    taken = set()
    for account in Account.objects.order_by("pk"):
        base = django.utils.text.slugify(account.name)[:90] or f"account-{account.pk}"
        slug, number = base, 2
        while slug in taken:
            slug, number = f"{base}-{number}", number + 1
        taken.add(slug)
        Account.objects.filter(pk=account.pk).update(slug=slug)


class Migration(migrations.Migration):
    """Accounts get a permanent key, the slug, that apply_config matches them by: a name can
    be changed, so it cannot say which tenant a config entry is."""

    dependencies = [
        ("integrations", "0005_account_without_delivery_policy"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="slug",
            field=models.SlugField(max_length=100, null=True, db_index=False),
        ),
        migrations.RunPython(derive_slugs, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="account",
            name="slug",
            field=models.SlugField(
                default=integrations.models.new_account_slug,
                help_text="The account's permanent key: apply_config matches accounts by it. "
                "Set when the account is created, never changed.",
                max_length=100,
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="name",
            field=models.CharField(help_text="The name shown.", max_length=200, unique=True),
        ),
        migrations.AlterField(
            model_name="account",
            name="npstoday_api_key",
            field=integrations.fields.EncryptedTextField(
                blank=True,
                help_text="Printable ASCII, as nps.today shows it. Stored encrypted; only the "
                "last 4 are shown.",
                validators=[integrations.fields.validate_header_value],
                verbose_name="nps.today API key",
            ),
        ),
    ]
