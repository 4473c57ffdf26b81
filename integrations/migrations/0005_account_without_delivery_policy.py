from django.db import migrations


class Migration(migrations.Migration):
    """The nps.today delivery policy and key health now live in ivr.NpsTodayDelivery
    (ivr 0002 copied them there)."""

    dependencies = [
        ('integrations', '0004_event_bus_and_bodies'),
        ('ivr', '0002_npstoday_delivery_model'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='account',
            name='npstoday_disabled_at',
        ),
        migrations.RemoveField(
            model_name='account',
            name='npstoday_disabled_reason',
        ),
        migrations.RemoveField(
            model_name='account',
            name='npstoday_failure_streak',
        ),
        migrations.RemoveField(
            model_name='account',
            name='npstoday_failure_streak_started_at',
        ),
        migrations.RemoveField(
            model_name='account',
            name='npstoday_max_attempts',
        ),
        migrations.RemoveField(
            model_name='account',
            name='npstoday_retry_seconds',
        ),
    ]
