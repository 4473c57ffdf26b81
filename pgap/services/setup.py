"""An account's P-GAP setup: which mappings it covers, the Dixa token it reads with, the
check of the attribute's definition against Dixa, and its `pgap` section of apply_config.

Dixa's API cannot create or change custom-attribute definitions, so the check only reads
(GET /v1/custom-attributes) and reports each failed point with the fix to make in Dixa."""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Exists, Q
from django.utils import timezone

from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from integrations.models import Account
from integrations.services.config import (
    ConfigError,
    assign_changed,
    strip_secrets,
    validated_save,
)
from integrations.services.dixa_sync import subscription_sync_request
from integrations.ttl_cache import TTLCache
from ivr.models import IvrMapping
from pgap.models import PgapSetup

SCORES = [str(n) for n in range(11)]
IN_DIXA = "In Dixa: Settings → Custom attributes"
NEW_CREDENTIAL_FIX = (
    "Create an API token in Dixa (Settings → Integrations → API Tokens, of type Dixa API) and "
    "paste it into this setup's Dixa API token, or into the mapping's."
)


@dataclass(frozen=True)
class Problem:
    point: str  # token, dixa, identifier, active, entity_type, input_type, options, required…
    found: str
    fix: str


# --- reads used by the capture ------------------------------------------------------------


# Asked for every close (the capture) and every survey sent (the member's score), mostly
# to learn that P-GAP is off: kept per process for PGAP_SETUP_CACHE_SECONDS.
_active: TTLCache[PgapSetup | None] = TTLCache(lambda: settings.PGAP_SETUP_CACHE_SECONDS)


def pgap_setup_active(*, account_id: int) -> PgapSetup | None:
    """The account's setup when P-GAP is on (as read within PGAP_SETUP_CACHE_SECONDS; the
    instance is shared, so callers only read it)."""
    return _active.get_or_load(
        account_id, lambda: PgapSetup.objects.filter(account_id=account_id, enabled=True).first()
    )


def pgap_mappings(setup: PgapSetup):
    """The enabled mappings whose surveys carry the agent's score: those chosen, or every
    mapping of the account when none is (one query)."""
    chosen = PgapSetup.mappings.through.objects.filter(pgapsetup_id=setup.pk)
    return IvrMapping.objects.filter(
        Q(pk__in=chosen.values("ivrmapping_id")) | ~Exists(chosen),
        account_id=setup.account_id,
        enabled=True,
    ).order_by("pk")  # not Meta's ordering, which joins the account


def pgap_mapping_for_queue(setup: PgapSetup, queue_id: str) -> IvrMapping | None:
    if not queue_id:
        return None
    return pgap_mappings(setup).filter(queue_id=queue_id).first()


def pgap_mapping_delay(setup: PgapSetup, mapping_id: int) -> int | None:
    """The mapping's delay in minutes when P-GAP covers it, else None."""
    covered = pgap_mappings(setup).filter(pk=mapping_id)
    return covered.values_list("delay_minutes", flat=True).first()


def dixa_token(setup: PgapSetup, mapping: IvrMapping | None = None) -> str:
    """The setup's Dixa token, else the mapping's, else any covered mapping's."""
    if setup.dixa_api_token:
        return setup.dixa_api_token
    if mapping is not None and mapping.dixa_api_token:
        return mapping.dixa_api_token
    candidate = pgap_mappings(setup).exclude(dixa_api_token="").order_by("name").first()
    return candidate.dixa_api_token if candidate else ""


# --- the check against Dixa -------------------------------------------------------------


def pgap_setup_check(*, setup: PgapSetup) -> PgapSetup:
    """Read Dixa's definitions and store the result: the attribute's id and options, the
    time, whether it passed and each failed point with its fix. When the token is refused
    or Dixa cannot be read, only that is reported and what an earlier check resolved stays."""
    token = dixa_token(setup)
    if not token:
        return _store(setup, [Problem("token", "no Dixa API token", NEW_CREDENTIAL_FIX)])
    try:
        definitions = dixa.list_custom_attributes(token)
    except dixa.DixaError as exc:
        if exc.refused_token:
            found = f"Dixa refused the token (HTTP {exc.status})"
            return _store(setup, [Problem("token", found, NEW_CREDENTIAL_FIX)])
        return _store(setup, [Problem("dixa", str(exc), "Try the check again later.")])
    except ApiUnavailable as exc:
        return _store(setup, [Problem("dixa", str(exc), "Try the check again later.")])

    problems, definition = _attribute_problems(setup, definitions)
    if definition is not None:
        setup.attribute_id = str(definition.get("id") or "")
        setup.attribute_options = _option_values(definition)
    else:
        setup.attribute_id, setup.attribute_options = "", {}
    if setup.write_back_attribute_id:
        problems += _write_back_problems(setup, definitions)
    return _store(setup, problems, resolved=True)


def _store(setup: PgapSetup, problems: list[Problem], *, resolved: bool = False) -> PgapSetup:
    setup.checked_at = timezone.now()
    setup.check_passed = not problems
    setup.check_problems = [asdict(p) for p in problems]
    fields = ["checked_at", "check_passed", "check_problems"]
    if resolved:
        fields += [
            "attribute_id",
            "attribute_options",
            "write_back_attribute_id",
            "write_back_input_type",
        ]
    setup.save(update_fields=fields)
    return setup


def _input_type(definition: dict) -> str:
    input_definition = definition.get("inputDefinition")
    return str(input_definition.get("_type", "")) if isinstance(input_definition, dict) else ""


def _options(definition: dict) -> list[dict]:
    input_definition = definition.get("inputDefinition") or {}
    options = input_definition.get("options") if isinstance(input_definition, dict) else None
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []


def _option_values(definition: dict) -> dict:
    """{option id: value} of every option, nested ones included."""
    values, stack = {}, list(_options(definition))
    while stack:
        option = stack.pop()
        if option.get("id") is not None and option.get("value") is not None:
            values[str(option["id"])] = str(option["value"])
        stack += [o for o in option.get("nestedOptions") or [] if isinstance(o, dict)]
    return values


def _is_conversation(definition: dict) -> bool:
    return str(definition.get("entityType", "")).lower() == "conversation"


def _names(definitions: list[dict]) -> str:
    names = sorted(
        f"{d.get('identifier')} ({d.get('id')})" for d in definitions if _is_conversation(d)
    )
    return ", ".join(names) or "none"


def _attribute_problems(setup: PgapSetup, definitions: list[dict]):
    identifier = setup.attribute_identifier
    matches = [d for d in definitions if d.get("identifier") == identifier]
    if not matches:
        found = f"no custom attribute with technical identifier {identifier!r}"
        found += f" (conversation attributes: {_names(definitions)})"
        fix = (
            f"{IN_DIXA} → Add attribute: Attribute type Select, a display label, Technical "
            f"identifier {identifier}, Required for agents to fill enabled, and the options "
            "0 to 10 (Label and Value both the number); then Create."
        )
        return [Problem("identifier", found, fix)], None
    # Prefer the conversation attribute, then one in use.
    definition = sorted(
        matches,
        key=lambda d: (not _is_conversation(d), bool(d.get("isArchived")), d.get("id") or ""),
    )[0]
    return _definition_problems(identifier, definition), definition


def _definition_problems(identifier: str, definition: dict) -> list[Problem]:
    problems = []
    if definition.get("isArchived") or definition.get("isDeactivated"):
        state = "archived" if definition.get("isArchived") else "deactivated"
        problems.append(
            Problem(
                "active",
                f"the attribute is {state}",
                f"{IN_DIXA}: restore (un-archive, activate) the attribute {identifier}.",
            )
        )
    if not _is_conversation(definition):
        problems.append(
            Problem(
                "entity_type",
                f"entity type {definition.get('entityType')!r}, not Conversation",
                f"P-GAP needs a conversation attribute, and Dixa cannot move an attribute "
                f"between contacts and conversations. {IN_DIXA}: archive the contact "
                f"attribute {identifier} and add a conversation attribute with technical "
                "identifier " + identifier + " (Select, options 0 to 10, required for agents).",
            )
        )
    input_type = _input_type(definition)
    if input_type != "Select":
        problems.append(
            Problem(
                "input_type",
                f"attribute type {input_type or 'unknown'!s}, not Select",
                f"Dixa does not change an attribute's type. {IN_DIXA}: archive {identifier} "
                "and add it again with Attribute type Select and the options 0 to 10.",
            )
        )
    else:
        options_found = _options_problem(_options(definition))
        if options_found:
            problems.append(
                Problem(
                    "options",
                    options_found,
                    f"{IN_DIXA} → {identifier}: make the options exactly 0, 1, … 10, each "
                    "with Label and Value the number itself, and remove any other option.",
                )
            )
    if not definition.get("isRequired"):
        problems.append(
            Problem(
                "required",
                "not required for agents",
                f"{IN_DIXA} → {identifier}: enable Required for agents to fill, so that no "
                "conversation closes without the agent's score.",
            )
        )
    return problems


def _options_problem(options: list[dict]) -> str:
    """What is wrong with the options (empty: they are exactly 0..10, labelled alike)."""
    active = {str(o.get("value")): o for o in options if not o.get("isDeactivated")}
    notes = []
    missing = [v for v in SCORES if v not in active]
    if missing:
        notes.append("missing values " + ", ".join(missing))
    extra = sorted(v for v in active if v not in SCORES)
    if extra:
        notes.append("other values " + ", ".join(repr(v) for v in extra))
    labels = [
        f"{v} is labelled {active[v].get('label')!r}"
        for v in SCORES
        if v in active and str(active[v].get("label", "")).strip() != v
    ]
    notes += labels
    nested = [v for v, o in active.items() if o.get("nestedOptions")]
    if nested:
        notes.append("nested options under " + ", ".join(nested))
    deactivated = [str(o.get("value")) for o in options if o.get("isDeactivated")]
    if deactivated and missing:
        notes.append("deactivated: " + ", ".join(deactivated))
    return "; ".join(notes)


def _write_back_problems(setup: PgapSetup, definitions: list[dict]) -> list[Problem]:
    """The attribute the customer's score is written to: an id, or a technical identifier
    (resolved to its id here)."""
    wanted = setup.write_back_attribute_id
    definition = next((d for d in definitions if d.get("id") == wanted), None) or next(
        (d for d in definitions if d.get("identifier") == wanted and _is_conversation(d)), None
    )
    if definition is None:
        setup.write_back_input_type = ""
        return [
            Problem(
                "write_back",
                f"no custom attribute with id or identifier {wanted!r} "
                f"(conversation attributes: {_names(definitions)})",
                "Set 'write the customer's score to' to one of the conversation attributes "
                f"listed, or add one ({IN_DIXA} → Add attribute: Text, or Select with the "
                "options 0 to 10).",
            )
        ]
    setup.write_back_attribute_id = str(definition["id"])
    setup.write_back_input_type = _input_type(definition)
    label = definition.get("identifier")
    if setup.write_back_attribute_id == setup.attribute_id:
        return [
            Problem(
                "write_back",
                f"{label} is the agent's own P-GAP attribute",
                "Choose another attribute for the customer's score: writing it there would "
                "replace the agent's prediction.",
            )
        ]
    if not _is_conversation(definition):
        return [
            Problem(
                "write_back",
                f"{label} is a {definition.get('entityType')} attribute",
                f"Choose a conversation attribute ({IN_DIXA}, Conversation attributes).",
            )
        ]
    if setup.write_back_input_type == "Select":
        values = {str(o.get("value")) for o in _options(definition)}
        missing = [v for v in SCORES if v not in values]
        if missing:
            return [
                Problem(
                    "write_back",
                    f"{label} is a Select without the values {', '.join(missing)}",
                    f"{IN_DIXA} → {label}: add the options 0 to 10, or choose a Text attribute.",
                )
            ]
    elif setup.write_back_input_type != "Text":
        return [
            Problem(
                "write_back",
                f"{label} has the type {setup.write_back_input_type or 'unknown'}",
                "Choose a Text attribute, or a Select with the options 0 to 10.",
            )
        ]
    return []


def pgap_setup_check_clear(*, setup: PgapSetup) -> None:
    """Forget what the last check resolved (the identifier or the token changed)."""
    setup.attribute_id, setup.attribute_options = "", {}
    setup.checked_at, setup.check_passed, setup.check_problems = None, None, []
    setup.write_back_input_type = ""


# --- apply_config ---------------------------------------------------------------------

CONFIG_FIELDS = (
    "enabled",
    "attribute_identifier",
    "dixa_api_token",
    "wait_seconds",
    "write_back_attribute_id",
)
CHECKED_FIELDS = ("attribute_identifier", "dixa_api_token", "write_back_attribute_id")
# What the account's Dixa subscription carries depends on these (events, queues).
SUBSCRIPTION_FIELDS = {"enabled", "mappings"}


def pgap_setup_apply(account: Account, spec) -> bool:
    """The `pgap` section: the account's setup, its mappings by name (none: all)."""
    if not isinstance(spec, dict):
        raise ValueError("must be a mapping")
    unknown = set(spec) - {*CONFIG_FIELDS, "mappings"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    spec = strip_secrets(spec, ("dixa_api_token",))
    setup = PgapSetup.objects.filter(account=account).first() or PgapSetup(account=account)
    before = {f: getattr(setup, f) for f in CHECKED_FIELDS}
    was_on = setup.enabled and not setup._state.adding
    changed = assign_changed(setup, spec, CONFIG_FIELDS) or setup._state.adding
    if any(getattr(setup, f) != before[f] for f in CHECKED_FIELDS):
        pgap_setup_check_clear(setup=setup)
    if changed:
        try:
            validated_save(setup)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
    resubscribe = setup.enabled != was_on
    if "mappings" in spec and _apply_mappings(setup, spec["mappings"]):
        changed = resubscribe = True
    if resubscribe:  # P-GAP on or off, or other mappings: Dixa's subscription follows
        subscription_sync_request(account_id=account.pk)
    return changed


def _apply_mappings(setup: PgapSetup, names) -> bool:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("mappings must be a list of IVR mapping names")
    mappings = list(IvrMapping.objects.filter(Q(account=setup.account_id) & Q(name__in=names)))
    unknown = set(names) - {m.name for m in mappings}
    if unknown:
        raise ValueError(f"unknown IVR mappings {sorted(unknown)}")
    before = set(setup.mappings.values_list("pk", flat=True))
    setup.mappings.set(mappings)
    return before != {m.pk for m in mappings}
