import json

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Account, ApiKey, SigningSecret
from integrations.services.api_keys import api_key_authenticate

pytestmark = pytest.mark.django_db

CONFIG = """
accounts:
  - name: Acme
    require_signature: true
    signature_tolerance_seconds: 120
    npstoday_api_key: nps-secret-0001
    members: [alice]
    api_keys: [{name: dixa-relay}]
    signing_secrets:
      - {label: dixa-webhook, secret: "00ff00ff00ff00ff"}
"""


def test_apply_config_creates_then_is_idempotent(tmp_path, capsys, django_user_model):
    # given
    django_user_model.objects.create_user("alice", is_staff=True)
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG)
    # when applied twice
    call_command("apply_config", str(path))
    first = capsys.readouterr().out
    call_command("apply_config", str(path))
    second = capsys.readouterr().out
    # then one account, one key (printed once, and it works), one secret
    account = Account.objects.get(name="Acme")
    assert account.require_signature is True
    assert account.signature_tolerance_seconds == 120
    assert account.npstoday_api_key == "nps-secret-0001"
    assert list(account.members.values_list("username", flat=True)) == ["alice"]
    assert ApiKey.objects.filter(account=account).count() == 1
    assert SigningSecret.objects.get(account=account).secret == "00ff00ff00ff00ff"
    key = first.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert api_key_authenticate(plaintext=key).account == account
    assert "created: Acme" in first
    assert "unchanged: Acme" in second and "API key" not in second


def test_apply_config_accepts_json_and_updates(tmp_path):
    path = tmp_path / "relay.json"
    path.write_text(json.dumps({"accounts": [{"name": "Beta"}]}))
    call_command("apply_config", str(path))
    path.write_text(json.dumps({"accounts": [{"name": "Beta", "require_signature": True}]}))
    call_command("apply_config", str(path))
    assert Account.objects.get(name="Beta").require_signature is True


@pytest.mark.parametrize(
    "bad, message",
    [
        ("accounts: [{name: X, colour: red}]", "unknown keys"),
        ("accounts: [{name: X, signing_secrets: [nothex]}]", "not hex"),
        ("accounts: [{name: X, members: [ghost]}]", "unknown users"),
        ("accounts: [{require_signature: true}]", "needs a name"),
    ],
)
def test_apply_config_refuses_bad_files_and_applies_nothing(tmp_path, bad, message):
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(CommandError, match=message):
        call_command("apply_config", str(path))
    assert not Account.objects.exists()
