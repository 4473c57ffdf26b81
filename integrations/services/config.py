"""Configuration as code: `apply_config FILE` creates or updates accounts idempotently.

Schema (YAML or JSON):
    accounts:
      - name: Acme                      # the key: matched by name
        require_signature: true         # optional
        signature_tolerance_seconds: 300
        npstoday_api_key: "..."         # optional, stored encrypted
        members: [alice, bob]           # optional, existing usernames
        api_keys: [{name: dixa-relay}]  # created when no active key of that name exists
        signing_secrets:                # hex; added when not present, never removed
          - {label: dixa-webhook, secret: "ab12..."}

Other apps add sections to an account with `register_section` (e.g. `ivr_mappings`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from integrations.models import Account, SigningSecret, hex_validator
from integrations.services.api_keys import api_key_create

ACCOUNT_FIELDS = (
    "require_signature",
    "signature_tolerance_seconds",
    "npstoday_api_key",
)
BASE_KEYS = {"name", "members", "api_keys", "signing_secrets", *ACCOUNT_FIELDS}
# Section name -> apply(account, value) -> bool (whether anything changed).
_sections: dict[str, Callable[[Account, object], bool]] = {}


def register_section(name: str, apply: Callable[[Account, object], bool]) -> None:
    _sections[name] = apply


class ConfigError(ValueError):
    pass


@dataclass
class ConfigReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    issued_keys: list[tuple[str, str, str]] = field(default_factory=list)  # account, name, key
    notes: list[str] = field(default_factory=list)


def assign_changed(obj, spec: dict, fields) -> bool:
    """Copy the fields present in `spec` onto `obj`; True when any value changed."""
    changed = False
    for attr in fields:
        if attr in spec and getattr(obj, attr) != spec[attr]:
            setattr(obj, attr, spec[attr])
            changed = True
    return changed


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@transaction.atomic
def config_apply(*, data: dict) -> ConfigReport:
    _require(isinstance(data, dict), "the file must hold a mapping with an 'accounts' list")
    accounts = data.get("accounts", [])
    _require(isinstance(accounts, list), "'accounts' must be a list")
    report = ConfigReport()
    for index, spec in enumerate(accounts):
        _require(isinstance(spec, dict) and spec.get("name"), f"accounts[{index}] needs a name")
        unknown = set(spec) - BASE_KEYS - set(_sections)
        _require(not unknown, f"accounts[{index}]: unknown keys {sorted(unknown)}")
        _apply_account(spec, report)
    return report


def _apply_account(spec: dict, report: ConfigReport) -> None:
    name = spec["name"]
    account, created = Account.objects.get_or_create(name=name)
    changed = assign_changed(account, spec, ACCOUNT_FIELDS)
    if changed:
        account.full_clean()
        account.save()

    changed |= _apply_members(account, spec.get("members"))
    changed |= _apply_signing_secrets(account, spec.get("signing_secrets", []), report)
    for key_spec in spec.get("api_keys", []):
        _require(
            isinstance(key_spec, dict) and key_spec.get("name"), f"{name}: api_keys need a name"
        )
        if not account.api_keys.filter(name=key_spec["name"], revoked_at=None).exists():
            issued = api_key_create(account=account, name=key_spec["name"])
            report.issued_keys.append((name, key_spec["name"], issued.plaintext))
            changed = True

    for section, apply in _sections.items():
        if section in spec:
            try:
                changed |= apply(account, spec[section])
            except (ValueError, ValidationError) as exc:
                raise ConfigError(f"{name}: {section}: {exc}") from exc

    bucket = report.created if created else report.updated if changed else report.unchanged
    bucket.append(name)


def _apply_members(account: Account, usernames) -> bool:
    if usernames is None:
        return False
    users = list(get_user_model().objects.filter(username__in=usernames))
    missing = set(usernames) - {u.username for u in users}
    _require(not missing, f"{account.name}: unknown users {sorted(missing)}")
    before = set(account.members.values_list("pk", flat=True))
    account.members.set(users)
    return before != {u.pk for u in users}


def _apply_signing_secrets(account: Account, specs, report: ConfigReport) -> bool:
    existing = {s.secret.lower() for s in account.signing_secrets.all()}
    changed = False
    for spec in specs:
        spec = {"secret": spec} if isinstance(spec, str) else spec
        secret = str(spec.get("secret", "")).strip()
        try:
            hex_validator(secret)
        except ValidationError as exc:
            raise ConfigError(f"{account.name}: signing secret is not hex") from exc
        if secret.lower() in existing:
            continue
        SigningSecret.objects.create(account=account, secret=secret, label=spec.get("label", ""))
        existing.add(secret.lower())
        changed = True
    return changed
