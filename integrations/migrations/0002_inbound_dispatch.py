from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [
        migrations.RenameField("inboundevent", "swept_at", "queued_at"),
        migrations.AlterField(
            model_name="inboundevent",
            name="queued_at",
            field=models.DateTimeField(
                blank=True, help_text="When the event was last handed to a worker.", null=True
            ),
        ),
        migrations.AddIndex(
            model_name="inboundevent",
            index=models.Index(
                condition=models.Q(("queued_at", None), ("status", "received")),
                fields=["id"],
                name="inbound_awaiting_dispatch",
            ),
        ),
    ]
