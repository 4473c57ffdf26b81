import hashlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.models import ApiKey
from integrations.services.api_keys import api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_key_is_stored_only_as_its_hash_and_prefix(account):
    # given / when
    issued = api_key_create(account=account, name="relay")
    # then
    stored = ApiKey.objects.get(pk=issued.api_key.pk)
    assert stored.key_hash == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    assert stored.prefix == issued.plaintext[:12]
    row_text = " ".join(
        str(v) for v in ApiKey.objects.filter(pk=stored.pk).values().first().values()
    )
    assert issued.plaintext not in row_text


def test_two_keys_differ(account):
    assert (
        api_key_create(account=account, name="a").plaintext
        != api_key_create(account=account, name="b").plaintext
    )


def test_authenticate_accepts_the_key_and_records_last_use(account):
    issued = api_key_create(account=account, name="relay")
    found = api_key_authenticate(plaintext=issued.plaintext)
    assert found.pk == issued.api_key.pk
    assert found.account == account
    assert ApiKey.objects.get(pk=found.pk).last_used_at is not None


def test_authenticate_rejects_a_key_with_the_right_prefix_but_wrong_secret(account):
    issued = api_key_create(account=account, name="relay")
    forged = issued.plaintext[:12] + "x" * (len(issued.plaintext) - 12)
    assert api_key_authenticate(plaintext=forged) is None
    assert api_key_authenticate(plaintext="not-a-key") is None


def test_revoked_key_no_longer_authenticates(account):
    issued = api_key_create(account=account, name="relay")
    api_key_revoke(api_key=issued.api_key)
    assert api_key_authenticate(plaintext=issued.plaintext) is None
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None


def test_last_used_is_written_at_most_once_per_resolution_window(account):
    # given a key used a moment ago
    issued = api_key_create(account=account, name="relay")
    recent = timezone.now() - timedelta(seconds=5)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=recent)
    # when it is used again
    api_key_authenticate(plaintext=issued.plaintext)
    # then the timestamp is not rewritten
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == recent
    # but an old timestamp is
    old = timezone.now() - timedelta(hours=1)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=old)
    api_key_authenticate(plaintext=issued.plaintext)
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at > old


def test_create_api_key_command_prints_a_working_key_on_the_last_line(account, capsys):
    call_command("create_api_key", "--account", account.name)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert api_key_authenticate(plaintext=last_line).account == account


def test_create_api_key_command_finds_the_account_by_its_slug(account, capsys):
    call_command("create_api_key", "--account", account.slug)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert api_key_authenticate(plaintext=last_line).account == account
