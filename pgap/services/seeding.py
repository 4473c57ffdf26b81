"""Synthetic P-GAP data for benchmarks and demos: accounts, mappings, and predictions with
their responses and pairs, written in batches."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from integrations.models import Account
from integrations.progress import Progress
from ivr.models import IvrMapping
from pgap.models import AgentPrediction, PgapPair, SurveyResponse

# How customers score (0 … 10): mostly promoters, as support surveys tend to be.
CUSTOMER_WEIGHTS = (3, 1, 1, 2, 2, 4, 5, 9, 14, 23, 36)
# The agent's error around the customer's score, before the agent's own bias.
NOISE = (-2, -1, -1, 0, 0, 0, 0, 1, 1, 2)
NAMES = ("Karla", "Jonas", "Freja", "Malik", "Sofie", "Emil", "Ida", "Noah", "Alma", "Oscar")


@dataclass(frozen=True)
class SeedResult:
    accounts: list[Account]
    pairs: int


@dataclass(frozen=True)
class _Agent:
    email: str
    name: str
    bias: float  # how much the agent over-estimates at the start of the range


def pgap_accounts_seed(*, accounts: int, mappings: int) -> list[tuple[Account, list[IvrMapping]]]:
    """`accounts` benchmark accounts (slug pgap-bench-N), each with `mappings` IVR mappings;
    existing ones are reused."""
    made = []
    for i in range(accounts):
        account, _ = Account.objects.get_or_create(
            slug=f"pgap-bench-{i}", defaults={"name": f"P-GAP bench {i}"}
        )
        rows = [
            IvrMapping.objects.get_or_create(
                account=account,
                queue_id=f"pgap-bench-queue-{k}",
                campaign_id=7000 + k,
                defaults={"name": f"Support queue {k + 1}"},
            )[0]
            for k in range(mappings)
        ]
        made.append((account, rows))
    return made


def _agents(count: int, rng: random.Random) -> list[_Agent]:
    return [
        _Agent(
            email=f"{NAMES[j % len(NAMES)].lower()}{j // len(NAMES) or ''}@bench.example",
            name=f"{NAMES[j % len(NAMES)]} {j // len(NAMES) or ''}".strip(),
            bias=rng.choice((-1.5, -0.5, 0, 0.5, 1, 2)),
        )
        for j in range(count)
    ]


def pgap_pairs_seed(
    *,
    pairs: int,
    accounts: int = 1,
    agents: int = 20,
    days: int = 365,
    mappings: int = 3,
    batch_size: int = 10_000,
    seed: int = 1,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """`pairs` predictions, responses and pairs, spread evenly over the accounts and over
    the last `days` days, oldest first (the order in which they would arrive). Agents over-
    or under-estimate by a bias of their own that halves over the range (coaching works).
    Deterministic for one `seed`."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data)
    now = now or timezone.now()
    tenants = pgap_accounts_seed(accounts=accounts, mappings=mappings)
    staff = {account.pk: _agents(agents, rng) for account, _ in tenants}
    next_csid = (AgentPrediction.objects.aggregate(top=Max("csid"))["top"] or 10_000_000) + 1
    span = days * 86_400
    written = 0
    while written < pairs:
        size = min(batch_size, pairs - written)
        predictions, responses, pair_rows = [], [], []
        for n in range(size):
            account, account_mappings = tenants[(written + n) % len(tenants)]
            agent = rng.choice(staff[account.pk])
            mapping = rng.choice(account_mappings)
            age = 1 - (written + n + rng.random()) / pairs  # oldest first, as pairs arrive
            closed_at = now - timedelta(seconds=60 + age * span)
            answered_at = min(now, closed_at + timedelta(minutes=rng.randint(5, 2880)))
            customer = rng.choices(range(11), CUSTOMER_WEIGHTS)[0]
            guess = customer + rng.choice(NOISE) + round(agent.bias * (0.5 + age / 2))
            agent_score = max(0, min(10, guess))
            csid = next_csid + written + n
            common = {"account_id": account.pk, "csid": csid}
            predictions.append(
                {
                    **common,
                    "queue_id": mapping.queue_id,
                    "mapping_id": mapping.pk,
                    "agent_email": agent.email,
                    "agent_name": agent.name,
                    "score": agent_score,
                    "status": AgentPrediction.Status.CAPTURED,
                    "source": AgentPrediction.Source.EVENT,
                    "closed_at": closed_at,
                    "captured_at": closed_at,
                }
            )
            responses.append(
                {
                    **common,
                    "response_id": f"bench-{csid}",
                    "campaign_id": mapping.campaign_id,
                    "rating": customer,
                    "rating_time": answered_at,
                    "agent_rating": agent_score,
                    "matched_by": SurveyResponse.Match.CSID,
                    "payload": {"Id": f"bench-{csid}", "Rating": customer},
                }
            )
            pair_rows.append(
                {
                    **common,
                    "mapping_id": mapping.pk,
                    "queue_id": mapping.queue_id,
                    "agent_email": agent.email,
                    "agent_name": agent.name,
                    "agent_score": agent_score,
                    "customer_score": customer,
                    "gap": agent_score - customer,
                    "answered_at": answered_at,
                }
            )
        with transaction.atomic():
            prediction_ids = _insert(AgentPrediction, predictions, now)
            response_ids = _insert(SurveyResponse, responses, now)
            for row, prediction_id, response_id in zip(
                pair_rows, prediction_ids, response_ids, strict=True
            ):
                row.update(prediction_id=prediction_id, response_id=response_id)
            _insert(PgapPair, pair_rows, now)
        written += size
        if progress is not None:
            progress.advance(size)
    return SeedResult(accounts=[account for account, _ in tenants], pairs=written)


def _insert(model, rows: list[dict], now: datetime) -> list[int]:
    """Insert `rows` (field attnames → values; the same keys in every row) and return their
    ids: with COPY on PostgreSQL, else bulk_create. Fields a row leaves out take their
    default (auto_now fields: `now`), as a model instance would."""
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in objs]
    table = model._meta.db_table
    given = ["id", *rows[0]]
    fields = {f.attname: f for f in model._meta.concrete_fields}
    rest = [f for name, f in fields.items() if name not in given]
    constants = tuple(f.get_db_prep_save(_default(f, now), connection) for f in rest)
    converters = {
        name: (lambda v, f=fields[name]: f.get_db_prep_save(v, connection))
        for name in rows[0]
        if fields[name].get_internal_type() == "JSONField"
    }
    columns = ", ".join(connection.ops.quote_name(fields[name].column) for name in given)
    columns += "".join(", " + connection.ops.quote_name(f.column) for f in rest)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
        ) as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = [converters[k](v) if k in converters else v for k, v in row.items()]
                copy.write_row((pk, *values, *constants))
    return ids


def _default(field, now: datetime):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()
