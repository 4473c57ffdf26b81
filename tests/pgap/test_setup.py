"""P-GAP setup: the check of the attribute against Dixa (the fake Dixa's definitions), the
`pgap` section of apply_config, and the setup's admin."""

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from integrations.models import Account, DixaConnection
from integrations.services.config import ConfigError, config_apply
from integrations.ttl_cache import TTLCache
from pgap.models import PgapSetup
from pgap.services.setup import dixa_token, pgap_setup_active, pgap_setup_check
from tests.fakes.dixa import (
    CUSTOMER_SCORE_ATTRIBUTE_ID,
    PGAP_ATTRIBUTE_ID,
    option_id,
    pgap_definition,
)
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory
from tests.pgap.factories import PgapSetupFactory
from tests.support.admin_pages import buttons

pytestmark = pytest.mark.django_db
NOW = "2026-11-22 12:00:00Z"
SCORES = [str(n) for n in range(11)]


def check(setup) -> PgapSetup:
    pgap_setup_check(setup=setup)
    return PgapSetup.objects.get(pk=setup.pk)


def points(setup) -> list[str]:
    return [p["point"] for p in setup.check_problems]


@time_machine.travel(NOW, tick=False)
def test_a_correct_attribute_passes_and_its_id_and_options_are_stored(fake_dixa):
    # given the fake's definition: conversation, Select 0..10, required for agents
    setup = PgapSetupFactory()
    # when the setup is checked
    setup = check(setup)
    # then it passed, with the attribute's id, its options and the time
    assert setup.check_passed is True and setup.check_problems == []
    assert setup.attribute_id == PGAP_ATTRIBUTE_ID
    assert setup.attribute_options == {option_id(v): v for v in SCORES}
    assert setup.checked_at == timezone.now()
    assert fake_dixa.recorded("/v1/custom-attributes")[0].headers["authorization"] == (
        "dixa-test-token"
    )


BROKEN = {
    "identifier": dict(identifier="pgap"),
    "entity_type": dict(entity_type="Contact"),
    "input_type": dict(input_type="Text"),
    "required": dict(required=False),
    "active": dict(archived=True),
}


@pytest.mark.parametrize("point", list(BROKEN))
def test_each_failed_point_is_reported_with_its_fix_in_dixa(fake_dixa, point):
    # given a definition broken on one point only
    fake_dixa.definitions[0] = pgap_definition(**BROKEN[point])
    # when checked
    setup = check(PgapSetupFactory())
    # then exactly that point failed, and the fix says where in Dixa
    assert setup.check_passed is False
    assert points(setup) == [point]
    problem = setup.check_problems[0]
    assert problem["found"] and "Settings → Custom attributes" in problem["fix"]


@pytest.mark.parametrize(
    "definition, found",
    [
        (pgap_definition(values=SCORES[:10]), "missing values 10"),
        (pgap_definition(values=[*SCORES, "11"]), "other values '11'"),
        (pgap_definition(labels={"5": "Five"}), "5 is labelled 'Five'"),
        (pgap_definition(values=["1", "2", "3", "4", "5"]), "missing values 0, 6, 7, 8, 9, 10"),
    ],
)
def test_options_must_be_exactly_0_to_10_labelled_alike(fake_dixa, definition, found):
    fake_dixa.definitions[0] = definition
    setup = check(PgapSetupFactory())
    assert points(setup) == ["options"]
    assert setup.check_problems[0]["found"] == found


def test_several_failures_are_each_reported(fake_dixa):
    fake_dixa.definitions[0] = pgap_definition(
        entity_type="Contact", required=False, labels={"0": "zero"}
    )
    setup = check(PgapSetupFactory())
    assert points(setup) == ["entity_type", "options", "required"]


def test_a_missing_identifier_lists_the_attributes_there_are(fake_dixa):
    setup = check(PgapSetupFactory(attribute_identifier="agent_score"))
    assert points(setup) == ["identifier"]
    assert "customer_score" in setup.check_problems[0]["found"]
    assert "Technical identifier agent_score" in setup.check_problems[0]["fix"]
    assert setup.attribute_id == ""


def test_a_refused_token_is_one_sentence_and_changes_nothing_else(fake_dixa):
    # given a setup that passed
    setup = check(PgapSetupFactory())
    # when its token is refused
    setup.dixa_api_token = "revoked-token"
    setup.save()
    setup = check(setup)
    # then the one problem is the token, and what the earlier check resolved stays
    assert setup.check_passed is False
    assert setup.check_problems == [
        {
            "point": "token",
            "found": "Dixa refused the token (HTTP 401)",
            "fix": setup.check_problems[0]["fix"],
        }
    ]
    assert "API Tokens" in setup.check_problems[0]["fix"]
    assert setup.attribute_id == PGAP_ATTRIBUTE_ID and len(setup.attribute_options) == 11


def test_dixa_down_is_reported_as_such(fake_dixa):
    fake_dixa.push({"status": 503})
    setup = check(PgapSetupFactory())
    assert points(setup) == ["dixa"]
    assert "503" in setup.check_problems[0]["found"]


def test_without_any_token_the_check_says_so(fake_dixa):
    setup = check(PgapSetupFactory(dixa_api_token=""))
    assert points(setup) == ["token"] and not fake_dixa.recorded()


def test_the_token_falls_back_to_a_covered_mappings(fake_dixa):
    setup = PgapSetupFactory(dixa_api_token="")
    IvrMappingFactory(account=setup.account, dixa_api_token="dixa-test-token")
    assert dixa_token(setup) == "dixa-test-token"
    assert check(setup).check_passed is True


def test_the_write_back_attribute_may_be_named_by_identifier(fake_dixa):
    setup = check(PgapSetupFactory(write_back_attribute_id="customer_score"))
    assert setup.check_passed is True
    assert setup.write_back_attribute_id == CUSTOMER_SCORE_ATTRIBUTE_ID
    assert setup.write_back_input_type == "Text"


@pytest.mark.parametrize(
    "wanted, found",
    [
        ("no_such_attribute", "no custom attribute with id or identifier 'no_such_attribute'"),
        (PGAP_ATTRIBUTE_ID, "p_gap is the agent's own P-GAP attribute"),
        ("66121f54-98ee-4727-a4e7-1a373d411ccf", "location is a Contact attribute"),
    ],
)
def test_a_wrong_write_back_attribute_is_a_problem(fake_dixa, wanted, found):
    setup = check(PgapSetupFactory(write_back_attribute_id=wanted))
    assert points(setup) == ["write_back"]
    assert setup.check_problems[0]["found"].startswith(found)


# --- apply_config -----------------------------------------------------------------------


def config(**pgap) -> dict:
    return {
        "accounts": [
            {
                "slug": "acme",
                "name": "Acme",
                "ivr_mappings": [
                    {"name": "Support DK", "campaign_id": 7232, "queue_id": "q-dk"},
                    {"name": "Sales", "campaign_id": 7300, "queue_id": "q-sales"},
                ],
                "pgap": pgap,
            }
        ]
    }


def test_apply_config_sets_up_pgap_with_mappings_by_name():
    config_apply(
        data=config(
            attribute_identifier="agent_guess",
            mappings=["Support DK"],
            dixa_api_token="  tok-123  ",
            wait_seconds=30,
            write_back_attribute_id="customer_score",
        )
    )
    setup = PgapSetup.objects.get(account__slug="acme")
    assert setup.enabled and setup.attribute_identifier == "agent_guess"
    assert [m.name for m in setup.mappings.all()] == ["Support DK"]
    assert setup.dixa_api_token == "tok-123" and setup.wait_seconds == 30
    assert setup.write_back_attribute_id == "customer_score"
    # applying the same file again changes nothing
    report = config_apply(
        data=config(
            attribute_identifier="agent_guess",
            mappings=["Support DK"],
            dixa_api_token="tok-123",
            wait_seconds=30,
            write_back_attribute_id="customer_score",
        )
    )
    assert report.unchanged == ["Acme"]


def test_apply_config_refuses_unknown_mappings_and_keys():
    with pytest.raises(ConfigError, match=r"pgap: unknown IVR mappings \['Nope'\]"):
        config_apply(data=config(mappings=["Nope"]))
    with pytest.raises(ConfigError, match=r"pgap: unknown keys \['colour'\]"):
        config_apply(data=config(colour="red"))
    assert not PgapSetup.objects.exists()


def test_a_new_identifier_forgets_the_last_check(fake_dixa):
    config_apply(data=config(dixa_api_token="dixa-test-token"))
    setup = check(PgapSetup.objects.get())
    assert setup.check_passed
    config_apply(data=config(dixa_api_token="dixa-test-token", attribute_identifier="other"))
    setup.refresh_from_db()
    assert (setup.attribute_id, setup.check_passed, setup.checked_at) == ("", None, None)


# --- admin --------------------------------------------------------------------------------


def test_the_check_action_shows_each_problem_with_its_fix(admin_client, fake_dixa):
    # given an attribute that is not required and lacks option 10
    fake_dixa.definitions[0] = pgap_definition(required=False, values=SCORES[:10])
    setup = PgapSetupFactory()
    # when an admin runs the action
    response = admin_client.post(
        reverse("admin:pgap_pgapsetup_changelist"),
        {"action": "check_against_dixa", "_selected_action": [setup.pk]},
        follow=True,
    )
    # then each problem is a message with the fix in Dixa, and the change page shows them
    page = response.content.decode()
    assert "missing values 10. Fix:" in page
    assert "not required for agents. Fix:" in page and "Required for agents to fill" in page
    change = admin_client.get(reverse("admin:pgap_pgapsetup_change", args=[setup.pk]))
    assert "fix in Dixa" in change.content.decode()


def test_the_setup_page_checks_against_dixa_itself(admin_client, fake_dixa, client):
    setup = PgapSetupFactory()
    change = reverse("admin:pgap_pgapsetup_change", args=[setup.pk])
    check = reverse("admin:pgap_pgapsetup_check", args=[setup.pk])
    assert f'action="{check}"' in admin_client.get(change).content.decode()
    # when the admin presses the page's button
    response = admin_client.post(check, follow=True)
    # then the check ran and the page says so
    assert response.redirect_chain == [(change, 302)]
    assert f"{setup.attribute_identifier} passed the check" in response.content.decode()
    setup.refresh_from_db()
    assert setup.check_passed
    # and it takes a POST from someone who may change the setup
    assert admin_client.get(check).status_code == 405
    assert client.post(check).status_code == 302  # not logged in: to the login page


def test_the_check_button_acts_only_for_who_may_change_that_setup(
    client, staff_user_factory, fake_dixa
):
    setup = PgapSetupFactory()
    check = reverse("admin:pgap_pgapsetup_check", args=[setup.pk])
    # another account's staff, and a viewer of this one, are refused
    other = staff_user_factory("eve", AccountFactory(), perms=["change_pgapsetup"])
    viewer = staff_user_factory("vic", setup.account, perms=["view_pgapsetup"])
    for user in (other, viewer):
        client.force_login(user)
        assert client.post(check).status_code == 403
    setup.refresh_from_db()
    assert setup.checked_at is None


def test_the_admin_keeps_the_token_and_forgets_the_check_when_the_identifier_changes(
    admin_client, fake_dixa
):
    setup = check(PgapSetupFactory())
    response = admin_client.post(
        reverse("admin:pgap_pgapsetup_change", args=[setup.pk]),
        {
            "enabled": "on",
            "attribute_identifier": "agent_guess",
            "dixa_api_token": "",
            "wait_seconds": 60,
            "write_back_attribute_id": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    setup.refresh_from_db()
    assert setup.dixa_api_token == "dixa-test-token"
    assert setup.attribute_id == "" and setup.check_passed is None


def test_predictions_are_read_only_records_that_can_be_read_again(admin_client):
    from unittest import mock

    from pgap.models import AgentPrediction
    from tests.pgap.factories import AgentPredictionFactory

    row = AgentPredictionFactory(status="failed", score=None, reason="Dixa refused the token")
    change = admin_client.get(reverse("admin:pgap_agentprediction_change", args=[row.pk]))
    assert change.status_code == 200 and "Dixa refused the token" in change.content.decode()
    assert "Read again from Dixa" in buttons(change.content.decode())
    assert admin_client.get(reverse("admin:pgap_agentprediction_add")).status_code == 403
    with mock.patch("pgap.tasks.capture_predictions.apply_async"):
        asked = admin_client.post(
            reverse("admin:pgap_agentprediction_changelist"),
            {"action": "read_again", "_selected_action": [row.pk]},
        )
        assert "Read again 1 of 1 selected from Dixa?" in asked.content.decode()
        row.refresh_from_db()
        assert row.status == AgentPrediction.Status.FAILED
        response = admin_client.post(
            reverse("admin:pgap_agentprediction_changelist"),
            {"action": "read_again", "confirmed": "yes", "_selected_action": [row.pk]},
            follow=True,
        )
    assert "1 prediction(s) to read again from Dixa" in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.attempt_count, row.reason) == (
        AgentPrediction.Status.PENDING,
        0,
        "read again by admin",
    )


def test_the_active_setup_is_read_once_per_cache_time_per_account(
    settings, django_assert_num_queries, monkeypatch
):
    # given workers keep an account's setup for 5 s (on a clock the test moves)
    settings.PGAP_SETUP_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr("integrations.ttl_cache.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("pgap.services.setup._active", TTLCache(lambda: 5))
    setup = PgapSetupFactory()
    # when every close and survey asks for it, it is read from the database once
    with django_assert_num_queries(1):
        assert pgap_setup_active(account_id=setup.account_id) == setup
        assert pgap_setup_active(account_id=setup.account_id) == setup
    # and switching P-GAP off reaches the worker once the 5 s are over
    PgapSetup.objects.filter(pk=setup.pk).update(enabled=False)
    assert pgap_setup_active(account_id=setup.account_id) == setup
    clock[0] += 5.1
    assert pgap_setup_active(account_id=setup.account_id) is None


def test_switching_pgap_in_the_admin_asks_dixas_subscription_to_follow(admin_client):
    # given an account connected to Dixa with P-GAP on
    setup = PgapSetupFactory()
    connection = DixaConnection.objects.create(
        account_id=setup.account_id, state=DixaConnection.State.CONNECTED
    )
    form = {"attribute_identifier": "p_gap", "dixa_api_token": "", "wait_seconds": 60}
    change = reverse("admin:pgap_pgapsetup_change", args=[setup.pk])
    # when it is saved unchanged, nothing is asked of Dixa
    assert admin_client.post(change, {**form, "enabled": "on"}).status_code == 302
    connection.refresh_from_db()
    assert connection.sync_due_at is None
    # when P-GAP is switched off
    assert admin_client.post(change, form).status_code == 302
    # then a sync of the subscription is due (its events lose the attribute updates)
    connection.refresh_from_db()
    assert connection.sync_due_at is not None


def test_switching_pgap_on_through_apply_config_asks_for_a_sync():
    config_apply(data=config(enabled=False))
    account = Account.objects.get(slug="acme")
    connection = DixaConnection.objects.create(
        account=account, state=DixaConnection.State.CONNECTED
    )
    config_apply(data=config(enabled=False))
    connection.refresh_from_db()
    assert connection.sync_due_at is None
    config_apply(data=config(enabled=True))
    connection.refresh_from_db()
    assert connection.sync_due_at is not None
