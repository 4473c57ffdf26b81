"""integrations 0019: rows written before Connect stopped calling our own missing settings
Dixa's refusal, and before the Dixa alert dropped its subject, are set right."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = ("integrations", "0018_dixa_action_requested")
AFTER = ("integrations", "0019_local_setup_is_not_dixas_refusal")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_old_local_setup_failures_and_dixa_alert_subjects_are_set_right():
    apps = migrate(BEFORE)
    try:
        # given rows as the old code left them
        Account = apps.get_model("integrations", "Account")
        DixaConnection = apps.get_model("integrations", "DixaConnection")
        AlertIncident = apps.get_model("integrations", "AlertIncident")
        made, accounts = [], []
        for name, detail, subscription in (
            ("a", "PUBLIC_URL is not set: Dixa needs the platform's public https address.", ""),
            ("b", "No Dixa API token: enter one on the Dixa connection, then connect.", ""),
            ("c", "Dixa refused the API token (401). Enter an admin API token …", ""),
            ("d", "PUBLIC_URL is not set: Dixa needs the platform's public https address.", "s1"),
        ):
            account = Account.objects.create(name=name, slug=name)
            accounts.append(account)
            made.append(
                DixaConnection.objects.create(
                    account=account, state="failed", detail=detail, subscription_id=subscription
                ).pk
            )
        AlertIncident.objects.create(
            account=accounts[2],
            condition="dixa_subscription",
            subject=str(made[2]),
            detail="x",
            opened_at=timezone.now(),
            last_seen_at=timezone.now(),
        )
        # when the migration runs
        apps = migrate(AFTER)
        DixaConnection = apps.get_model("integrations", "DixaConnection")
        AlertIncident = apps.get_model("integrations", "AlertIncident")
        states = dict(DixaConnection.objects.filter(pk__in=made).values_list("pk", "state"))
        # then our own missing settings are "not connected"; Dixa's refusals stay failed
        assert [states[pk] for pk in made] == ["not_connected", "not_connected", "failed", "failed"]
        assert DixaConnection.objects.get(pk=made[0]).detail.startswith("Not asked: PUBLIC_URL")
        # and the open Dixa incident keeps going, without a subject
        assert list(AlertIncident.objects.values_list("subject", flat=True)) == [""]
    finally:
        migrate(
            (
                "integrations",
                MigrationExecutor(connection).loader.graph.leaf_nodes("integrations")[0][1],
            )
        )
