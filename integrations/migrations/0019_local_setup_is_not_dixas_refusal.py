"""Two things the code now says differently, set right in rows written before:

- Connect without PUBLIC_URL or a Dixa token used to mark the connection "Dixa refused"
  (failed), which alerted; it is our setting, not Dixa's answer, so such a connection that
  never got a subscription is simply not connected.
- The Dixa subscription alert used the connection's id as its subject and now has none: an
  open incident keeps its identity (no false "resolved" and new incident on deploy)."""

from django.db import migrations

LOCAL_SETUP = ("PUBLIC_URL is not set", "No Dixa API token")


def forwards(apps, schema_editor):
    DixaConnection = apps.get_model("integrations", "DixaConnection")
    AlertIncident = apps.get_model("integrations", "AlertIncident")
    for connection in DixaConnection.objects.filter(state="failed", subscription_id=""):
        if connection.detail.startswith(LOCAL_SETUP):
            connection.state = "not_connected"
            connection.detail = f"Not asked: {connection.detail}"
            connection.save(update_fields=["state", "detail"])
    AlertIncident.objects.filter(condition="dixa_subscription", resolved_at=None).exclude(
        subject=""
    ).update(subject="")


class Migration(migrations.Migration):
    dependencies = [("integrations", "0018_dixa_action_requested")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
