from django.db import migrations

import integrations.fields


class Migration(migrations.Migration):
    """Dixa API tokens are validated as HTTP header values (printable ASCII, no spaces)."""

    dependencies = [
        ("ivr", "0002_npstoday_delivery_model"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ivrmapping",
            name="dixa_api_token",
            field=integrations.fields.EncryptedTextField(
                blank=True,
                help_text="Printable ASCII, as Dixa shows it. Stored encrypted; only the last 4 "
                "are shown.",
                validators=[integrations.fields.validate_header_value],
                verbose_name="Dixa API token",
            ),
        ),
    ]
