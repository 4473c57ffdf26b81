"""Configuration as code: `apply_config FILE` creates or updates accounts idempotently.

Schema (YAML or JSON):
    accounts:
      - slug: acme                      # the key: accounts are matched by slug, never by name
        name: Acme                      # shown; the config may change it
        require_signature: true         # optional
        signature_tolerance_seconds: 300
        npstoday_api_key: "..."         # optional, stored encrypted
        members: [alice, bob]           # optional, existing usernames
        api_keys: [{name: dixa-relay}]  # created when no active key of that name exists
        signing_secrets:                # hex; added when not present, never removed
          - {label: dixa-webhook, secret: "ab12..."}

An entry without `slug` takes the slug of its name (`Acme Nordic` → `acme-nordic`), as the
accounts that existed before slugs did. Other apps add sections to an account with
`register_section` (e.g. `ivr_mappings`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.text import slugify

from integrations.audit.services import audit_record
from integrations.models import Account, SigningSecret, hex_validator
from integrations.progress import Progress
from integrations.services.api_keys import api_key_create

ACCOUNT_FIELDS = (
    "require_signature",
    "signature_tolerance_seconds",
    "npstoday_api_key",
)
# Credentials we send in HTTP headers: a pasted value loses the whitespace around it.
SECRET_FIELDS = ("npstoday_api_key",)
BASE_KEYS = {"slug", "name", "members", "api_keys", "signing_secrets", *ACCOUNT_FIELDS}
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


def strip_secrets(spec: dict, names) -> dict:
    """`spec` with the whitespace around the named secrets removed (pasted keys carry some)."""
    return {k: v.strip() if k in names and isinstance(v, str) else v for k, v in spec.items()}


def validated_save(obj: models.Model) -> None:
    """Save `obj` after the model's own validation; its errors name the fields' labels."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        labels = {f.name: str(f.verbose_name) for f in obj._meta.fields}
        problems = [
            f"{labels.get(field, field)}: {' '.join(messages)}"
            for field, messages in exc.message_dict.items()
        ]
        raise ConfigError("; ".join(problems)) from exc
    obj.save()


@transaction.atomic
def config_apply(*, data: dict, progress: Progress | None = None) -> ConfigReport:
    _require(isinstance(data, dict), "the file must hold a mapping with an 'accounts' list")
    accounts = data.get("accounts", [])
    _require(isinstance(accounts, list), "'accounts' must be a list")
    if progress is not None:
        progress.set_total(len(accounts))
    report = ConfigReport()
    for index, spec in enumerate(accounts):
        _require(
            isinstance(spec, dict) and (spec.get("slug") or spec.get("name")),
            f"accounts[{index}] needs a slug or a name",
        )
        unknown = set(spec) - BASE_KEYS - set(_sections)
        _require(not unknown, f"accounts[{index}]: unknown keys {sorted(unknown)}")
        _apply_account(strip_secrets(spec, SECRET_FIELDS), report)
        if progress is not None:
            progress.advance()
    return report


def account_slug(spec: dict) -> str:
    """The entry's key: its slug, or (for entries written before slugs) its name's slug."""
    if spec.get("slug"):
        return str(spec["slug"])
    slug = slugify(str(spec["name"]))
    _require(slug, f"{spec['name']}: needs a slug (its name makes none)")
    return slug


def _account_for(spec: dict) -> tuple[Account, bool]:
    """The account the entry configures, matched by slug (a new one when none has it).
    Its name may change, but never to the name of another account: that account could be
    one whose staff renamed it to claim this entry's keys and mappings."""
    slug = account_slug(spec)
    account = Account.objects.filter(slug=slug).first()
    created = account is None
    if created:
        _require(spec.get("name"), f"{slug}: a new account needs a name")
        account = Account(slug=slug, name=spec["name"])
    name = spec.get("name", account.name)
    holder = Account.objects.filter(name=name).exclude(pk=account.pk).first()
    _require(
        holder is None,
        f"{slug}: the name {name!r} is taken by account {getattr(holder, 'slug', '')!r}; "
        "entries are matched by slug (give the entry that account's slug, or another name)",
    )
    return account, created


def _apply_account(spec: dict, report: ConfigReport) -> None:
    account, created = _account_for(spec)
    label = account.slug
    changed = assign_changed(account, spec, ("name", *ACCOUNT_FIELDS))
    if changed or created:
        try:
            validated_save(account)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from exc

    changed |= _apply_members(account, spec.get("members"))
    changed |= _apply_signing_secrets(account, spec.get("signing_secrets", []), report)
    for key_spec in spec.get("api_keys", []):
        _require(
            isinstance(key_spec, dict) and key_spec.get("name"), f"{label}: api_keys need a name"
        )
        if not account.api_keys.filter(name=key_spec["name"], revoked_at=None).exists():
            issued = api_key_create(account=account, name=key_spec["name"])
            report.issued_keys.append((account.name, key_spec["name"], issued.plaintext))
            audit_record(
                actor="apply_config",
                action="API key add",
                objects=[issued.api_key],
                summary=f"{issued.api_key}: issued from the config file",
                result="saved",
            )
            changed = True

    for section, apply in _sections.items():
        if section in spec:
            try:
                changed |= apply(account, spec[section])
            except (ValueError, ValidationError) as exc:
                raise ConfigError(f"{label}: {section}: {exc}") from exc

    bucket = report.created if created else report.updated if changed else report.unchanged
    bucket.append(account.name)


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
        added = SigningSecret.objects.create(
            account=account, secret=secret, label=spec.get("label", "")
        )
        audit_record(
            actor="apply_config",
            action="signing secret add",
            objects=[added],
            summary=f"{added}: added to {account} from the config file",
            result="saved",
        )
        existing.add(secret.lower())
        changed = True
    return changed
