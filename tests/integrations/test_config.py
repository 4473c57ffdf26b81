import importlib
import json

import pytest
from django.apps import apps as django_apps
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
        ("accounts: [{require_signature: true}]", "needs a slug or a name"),
    ],
)
def test_apply_config_refuses_bad_files_and_applies_nothing(tmp_path, bad, message):
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(CommandError, match=message):
        call_command("apply_config", str(path))
    assert not Account.objects.exists()


def apply(tmp_path, text: str) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(text)
    call_command("apply_config", str(path))


def test_an_account_renamed_to_a_new_tenants_name_does_not_get_that_tenants_config(tmp_path):
    # given a tenant's staff renamed their account to the name of a tenant not configured yet
    apply(tmp_path, "accounts: [{name: Mine}]")
    Account.objects.filter(name="Mine").update(name="Newco")
    # when the new tenant's entry is applied (without a slug: derived from the name)
    with pytest.raises(CommandError, match="'Newco' is taken by account 'mine'"):
        apply(
            tmp_path,
            "accounts: [{name: Newco, npstoday_api_key: newco-key, "
            "signing_secrets: ['abab'], api_keys: [{name: relay}]}]",
        )
    # then none of its keys, secrets or mappings reached the renamed account
    renamed = Account.objects.get()
    assert (renamed.slug, renamed.npstoday_api_key) == ("mine", "")
    assert not renamed.signing_secrets.exists() and not renamed.api_keys.exists()


def test_accounts_are_matched_by_slug_and_the_config_may_rename_them(tmp_path):
    apply(tmp_path, "accounts: [{slug: acme, name: Acme}]")
    apply(tmp_path, "accounts: [{slug: acme, name: Acme Inc, require_signature: true}]")
    account = Account.objects.get()
    assert (account.slug, account.name, account.require_signature) == ("acme", "Acme Inc", True)


def test_an_entry_without_slug_derives_it_from_the_name(tmp_path):
    apply(tmp_path, "accounts: [{name: Acme Nordic A/S}]")
    apply(tmp_path, "accounts: [{slug: acme-nordic-as, signature_tolerance_seconds: 60}]")
    account = Account.objects.get()
    assert (account.slug, account.signature_tolerance_seconds) == ("acme-nordic-as", 60)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("accounts: [{slug: 'not a slug', name: X}]", "slug"),
        ("accounts: [{slug: new-one}]", "a new account needs a name"),
        ("accounts: [{name: '日本'}]", "needs a slug"),
    ],
)
def test_bad_slugs_are_refused(tmp_path, bad, message):
    with pytest.raises(CommandError, match=message):
        apply(tmp_path, bad)
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["nps-key\nX-Injected: 1", "nps-\rkey", "nps\x00key", "nøgle-1234", "nps key", "ключ"],
)
def test_an_npstoday_key_headers_cannot_carry_is_refused(tmp_path, key):
    with pytest.raises(CommandError, match="API key for nps.today"):
        apply(tmp_path, f"accounts: [{{name: Acme, npstoday_api_key: {json.dumps(key)}}}]")
    assert not Account.objects.exists()


def test_whitespace_around_a_pasted_npstoday_key_is_stripped(tmp_path):
    apply(tmp_path, 'accounts: [{name: Acme, npstoday_api_key: "  nps-key-0001 \\n"}]')
    assert Account.objects.get().npstoday_api_key == "nps-key-0001"


def test_accounts_made_before_slugs_keep_matching_their_config_entries(tmp_path):
    # given accounts as they were before slugs (the migration derives theirs)
    migration = importlib.import_module(
        "integrations.migrations.0006_account_slug_and_header_safe_key"
    )
    acme, shouting, japanese = (Account.objects.create(name=n) for n in ("Acme", "ACME!", "日本"))
    migration.derive_slugs(django_apps, None)
    slugs = dict(Account.objects.values_list("name", "slug"))
    assert slugs == {"Acme": "acme", "ACME!": "acme-2", "日本": f"account-{japanese.pk}"}
    # when the old config file, without slugs, is applied
    apply(tmp_path, "accounts: [{name: Acme, require_signature: true}]")
    # then it updates the account it always did
    assert Account.objects.count() == 3
    assert Account.objects.get(pk=acme.pk).require_signature is True


def test_the_command_says_nothing_was_applied_when_the_file_is_refused(tmp_path):
    from django.core.management import CommandError, call_command

    config = tmp_path / "relay.yaml"
    config.write_text("accounts:\n  - {name: A, unknown_key: 1}\n")
    with pytest.raises(CommandError, match="^nothing applied: "):
        call_command("apply_config", str(config))
