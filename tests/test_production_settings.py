"""Production settings refuse insecure defaults. Each case imports them in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-value-7Qm2xVb9Lk4Rt8Zp3Wn6Yc1Hs5Jd0",
    "FIELD_ENCRYPTION_KEYS": "zWTCa2T5V8sSrHXd6mX9BfsQtVIOwDQLnBhjTtCxRko=",
    "DJANGO_DEBUG": "0",
}


def load_production(code: str = "print('started')", **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    env.update({k: v for k, v in {**GOOD, **overrides}.items() if v is not None})
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_secure_settings():
    result = load_production()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off"),
        ({"DJANGO_SECRET_KEY": None}, "Set DJANGO_SECRET_KEY"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "Set FIELD_ENCRYPTION_KEYS"),
    ],
)
def test_production_refuses_insecure_defaults(overrides, message):
    result = load_production(**overrides)
    assert result.returncode != 0
    assert message in result.stderr


def test_x_forwarded_proto_is_trusted_only_behind_a_proxy_that_sets_it():
    show = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    assert load_production(code=show).stdout.strip() == "None"
    trusted = load_production(code=show, DJANGO_TRUST_X_FORWARDED_PROTO="1")
    assert trusted.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_deploy_checks_pass_under_production_settings():
    """`manage.py check --deploy` is clean: any warning fails (CI runs the same command)."""
    result = load_production(
        code=(
            "from django.core.management import call_command; "
            "call_command('check', deploy=True, fail_level='WARNING'); print('clean')"
        ),
        DJANGO_ALLOWED_HOSTS="relay.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "clean" in result.stdout


def test_hsts_preload_is_the_operators_choice():
    show = "from django.conf import settings; print(settings.SECURE_HSTS_PRELOAD)"
    assert load_production(code=show).stdout.strip() == "False"
    assert load_production(code=show, DJANGO_SECURE_HSTS_PRELOAD="1").stdout.strip() == "True"


def test_production_logs_one_json_object_per_line():
    result = load_production(
        code="import logging; logging.getLogger('relay.check').warning('survey %s delivered', 7)"
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["event"] == "survey 7 delivered"
    assert line["logger"] == "relay.check" and line["level"] == "warning"
