import json

import pytest
from django.core.management import CommandError, call_command

from ivr.models import IvrMapping

pytestmark = pytest.mark.django_db

CONFIG = """
accounts:
  - name: Acme
    npstoday_api_key: nps-test-key
    npstoday_max_attempts: 3
    ivr_mappings:
      - name: Support DK
        campaign_id: 7232
        queue_id: 986359e5-e201-48ab-84af-c7799e03e58c
        dixa_api_token: dixa-secret-token
        channels: [EMAIL]
        delay_minutes: 1440
        quarantine_days: 30
"""


def test_apply_config_creates_mappings_idempotently(tmp_path, capsys):
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG)
    call_command("apply_config", str(path))
    call_command("apply_config", str(path))
    mapping = IvrMapping.objects.get()
    assert (mapping.campaign_id, mapping.delay_minutes, mapping.channels) == (7232, 1440, ["EMAIL"])
    assert mapping.dixa_api_token == "dixa-secret-token"
    assert mapping.account.npstoday_delivery.max_attempts == 3
    assert "unchanged: Acme" in capsys.readouterr().out
    path.write_text(CONFIG.replace("delay_minutes: 1440", "delay_minutes: 60"))
    call_command("apply_config", str(path))
    assert IvrMapping.objects.get().delay_minutes == 60


def test_bad_mapping_is_refused_with_its_place(tmp_path):
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG.replace("campaign_id: 7232", "campaign_id: seven"))
    with pytest.raises(CommandError, match="acme: ivr_mappings: Support DK"):
        call_command("apply_config", str(path))
    assert not IvrMapping.objects.exists()


@pytest.mark.parametrize(
    "token", ["tok\nX-Injected: 1", "tok\ten", "tøken", "to ken", "\u200btoken"]
)
def test_a_dixa_token_headers_cannot_carry_is_refused(tmp_path, token):
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG.replace("dixa-secret-token", json.dumps(token)))
    with pytest.raises(CommandError, match="Dixa API token"):
        call_command("apply_config", str(path))
    assert not IvrMapping.objects.exists()


def test_whitespace_around_a_pasted_dixa_token_is_stripped(tmp_path):
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG.replace("dixa-secret-token", json.dumps("  dixa-secret-token\n")))
    call_command("apply_config", str(path))
    assert IvrMapping.objects.get().dixa_api_token == "dixa-secret-token"
