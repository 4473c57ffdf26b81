import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from integrations import crypto
from integrations.models import Account, SigningSecret

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_secret_round_trips_and_is_not_stored_in_clear(settings):
    # given
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    account = Account.objects.create(name="Acme", npstoday_api_key="npskey-1234")
    # then the column holds a Fernet token, and the model reads back the plaintext
    stored = raw_column("integrations_account", "npstoday_api_key", account.pk)
    assert "npskey" not in stored
    assert Fernet(OLD_KEY.encode()).decrypt(stored.encode()) == b"npskey-1234"
    assert Account.objects.get(pk=account.pk).npstoday_api_key == "npskey-1234"


def test_rotation_old_values_decrypt_with_old_key_listed_second(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    account = Account.objects.create(name="Acme", npstoday_api_key="npskey-1234")
    # when a new key is put first
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    # then old values still read
    assert Account.objects.get(pk=account.pk).npstoday_api_key == "npskey-1234"


def test_reencrypt_moves_every_secret_to_the_newest_key(settings):
    # given values written under the old key
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    account = Account.objects.create(name="Acme", npstoday_api_key="npskey-1234")
    secret = SigningSecret.objects.create(account=account, secret="abcd" * 8)
    # when rotating and re-encrypting
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("reencrypt_secrets")
    # then the new key alone reads everything
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    assert Account.objects.get(pk=account.pk).npstoday_api_key == "npskey-1234"
    assert SigningSecret.objects.get(pk=secret.pk).secret == "abcd" * 8
    token = raw_column("integrations_signingsecret", "secret", secret.pk)
    assert Fernet(NEW_KEY.encode()).decrypt(token.encode()) == b"abcd" * 8


def test_value_under_an_unknown_key_is_a_clear_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    account = Account.objects.create(name="Acme", npstoday_api_key="npskey-1234")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(crypto.DecryptionError):
        Account.objects.get(pk=account.pk)


def test_mask_shows_only_the_last_four():
    assert crypto.mask("supersecret-9f3a") == "••••9f3a"
    assert crypto.mask("") == ""


def test_without_configured_keys_a_local_key_is_generated_and_kept(settings, tmp_path, caplog):
    # given a laptop with no FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.RUN_DIR = tmp_path
    # when a secret is encrypted, and again later
    token = crypto.encrypt("npskey-1234")
    again = crypto.configured_keys()
    # then the key was generated once, kept private, said out loud, and is not derived from
    # the (public) secret key
    key_file = tmp_path / "field-encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert again == (key_file.read_text().strip(),)
    assert Fernet(again[0].encode()).decrypt(token.encode()) == b"npskey-1234"
    assert "FIELD_ENCRYPTION_KEYS is not set" in caplog.text
