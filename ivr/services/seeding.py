"""Synthetic relay history at scale, for the admin's benchmark and demos: accounts with IVR
mappings, inbound events (with bodies and handler runs), surveys and their tries, written
by PostgreSQL itself (INSERT … SELECT over generate_series) so a million rows take a minute.

Seven in ten events are closes; of those, `surveys` became surveys (mostly delivered, a few
dead letters, pending, held or cancelled) and the rest were skipped with a reason. Customers
recur (customer-<n>@example.com, +45 2<n>), so a lookup finds several closes per person."""

from dataclasses import dataclass

from django.db import connection, transaction

from integrations.models import Account
from integrations.progress import Progress
from ivr.models import IvrMapping
from ivr.services.daily_counts import daily_counts_refresh

CUSTOMERS = 300_000
SKIP_REASONS = (
    "no enabled IVR mapping for queue scale-queue-x",
    "quarantine: the customer was surveyed within 30 days",
    "channel VOICEMAIL is not surveyed by this mapping",
    "the conversation has no assigned agent",
)
OTHER_TYPES = ("ConversationCreated", "ConversationMessageAdded", "ConversationAssigned")


@dataclass(frozen=True)
class ScaleSeed:
    accounts: list[Account]
    events: int
    surveys: int


def scale_accounts_seed(*, accounts: int, mappings: int) -> list[Account]:
    """Accounts admin-scale-N with `mappings` mappings each (reused when present)."""
    made = []
    for i in range(accounts):
        account, _ = Account.objects.get_or_create(
            slug=f"admin-scale-{i}",
            defaults={"name": f"Scale {i}", "npstoday_api_key": f"scale-key-{i}"},
        )
        for k in range(mappings):
            IvrMapping.objects.get_or_create(
                account=account,
                queue_id=f"scale-queue-{i}-{k}",
                campaign_id=9000 + k,
                defaults={
                    "name": f"Queue {k + 1} of scale {i}",
                    "queue_name": f"Support {k + 1}",
                    "campaign_name": f"After-support survey {k + 1}",
                },
            )
        made.append(account)
    return made


def scale_history_seed(
    *,
    events: int,
    surveys: int,
    accounts: int,
    mappings: int,
    days: int,
    progress: Progress | None = None,
):
    """Bulk-insert `events` events over the last `days` days, `surveys` of the closes made
    surveys. PostgreSQL only. `progress` counts its steps (one big statement per table, then
    ANALYZE and the daily counts)."""
    if connection.vendor != "postgresql":
        raise ValueError("seeding at scale needs PostgreSQL")
    closes = events * 7 // 10
    if surveys > closes:
        raise ValueError(f"at most {closes} surveys from {events} events (seven in ten close)")
    made = scale_accounts_seed(accounts=accounts, mappings=mappings)
    ids = [a.pk for a in made]
    params = {
        "accounts": ids,
        "n_accounts": len(ids),
        "mappings": mappings,
        "events": events,
        "surveys": surveys,
        "closes": closes,
        "span": days * 86400.0,
        "customers": CUSTOMERS,
        "skips": list(SKIP_REASONS),
        "others": list(OTHER_TYPES),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM integrations_inboundevent")
        params["base"] = cursor.fetchone()[0]
        for statement in (EVENTS, BODIES, RUNS, TRIGGERS, ATTEMPTS):
            cursor.execute(statement, params)
            if progress is not None:
                progress.advance()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
    if progress is not None:
        progress.advance()
    # The dashboard reads the daily counts beat keeps; count the seeded month at once.
    daily_counts_refresh(days=min(days, 30))
    if progress is not None:
        progress.advance()
    return ScaleSeed(accounts=made, events=events, surveys=surveys)


TABLES = (
    "integrations_inboundevent",
    "integrations_inboundeventbody",
    "integrations_handlerrun",
    "ivr_surveytrigger",
    "ivr_deliveryattempt",
)

# g = 1 … events, oldest first; g %% 10 below 7 is a close, the n-th close. Surveys are spread
# evenly over the closes (`surveys` of `closes`); the other closes were skipped (one in 997
# an error); other events have no handler.
EVENTS = """
INSERT INTO integrations_inboundevent (
    account_id, event_id, event_type, event_fqn, is_known_type, event_timestamp, csid,
    queue_id, channel, organization_id, requester_email, requester_phone, verification,
    received_at, status, outcome, outcome_reason, processing_attempts, processing_started_at,
    processed_at, queued_at)
SELECT (%(accounts)s::bigint[])[1 + g %% %(n_accounts)s], 'scale-' || (%(base)s + g),
    k.type, upper(regexp_replace(k.type, '([a-z])([A-Z])', '\\1_\\2', 'g')), true, k.at,
    %(base)s + g, 'scale-queue-' || (g %% %(n_accounts)s) || '-' || (g %% %(mappings)s),
    'EMAIL', 'scale-org', 'customer-' || (g %% %(customers)s) || '@example.com',
    '+452' || lpad((g %% %(customers)s)::text, 7, '0'), 'verified', k.at, 'processed',
    CASE WHEN NOT k.close THEN 'no_handler' WHEN k.survey THEN 'handled'
         WHEN g %% 997 = 0 THEN 'error' ELSE 'skipped' END,
    CASE WHEN NOT k.close THEN '' WHEN k.survey THEN 'survey to campaign'
         WHEN g %% 997 = 0 THEN 'survey: OperationalError: server closed the connection'
         ELSE (%(skips)s::text[])[1 + g %% 4] END,
    1, k.at, k.at + interval '40 milliseconds', k.at
FROM generate_series(1::bigint, %(events)s) AS g
CROSS JOIN LATERAL (SELECT g %% 10 < 7 AS close, (g / 10) * 7 + g %% 10 + 1 AS n) AS c
CROSS JOIN LATERAL (SELECT c.close,
    c.close AND (c.n * %(surveys)s / %(closes)s) > ((c.n - 1) * %(surveys)s / %(closes)s)
        AS survey,
    CASE WHEN c.close THEN 'ConversationClosed' ELSE (%(others)s::text[])[1 + g %% 3] END
        AS type,
    now() - make_interval(secs => (%(events)s - g) * %(span)s / %(events)s) AS at) AS k
"""

BODIES = """
INSERT INTO integrations_inboundeventbody (event_id, raw_body, headers)
SELECT e.id, convert_to(json_build_object(
    'event_id', e.event_id, 'event_fqn', e.event_fqn, 'event_version', '1',
    'event_timestamp', e.received_at,
    'data', json_build_object('conversation', json_build_object(
        'csid', e.csid, 'channel', e.channel, 'queue', json_build_object('id', e.queue_id),
        'requester', json_build_object('name', 'Customer', 'email', e.requester_email,
                                       'phone', e.requester_phone),
        'assignee', json_build_object('name', 'Karla', 'email', 'karla@corp.example'))))::text,
    'UTF8'), '{"Content-Type": "application/json"}'::jsonb
FROM integrations_inboundevent e WHERE e.id > %(base)s
"""

RUNS = """
INSERT INTO integrations_handlerrun (event_id, handler, outcome, reason, attempts, finished_at)
SELECT e.id, 'survey', CASE e.outcome WHEN 'handled' THEN 'handled' WHEN 'error' THEN 'error'
    ELSE 'skipped' END, e.outcome_reason, 1, e.processed_at
FROM integrations_inboundevent e
WHERE e.id > %(base)s AND e.event_type = 'ConversationClosed'
"""

TRIGGERS = """
INSERT INTO ivr_surveytrigger (
    account_id, mapping_id, inbound_event_id, guid, dedupe_key, campaign_id, csid,
    respondent_email, respondent_phone, payload, status, next_attempt_at, queued_at,
    sending_started_at, attempt_count, last_status_code, reason, created_at, updated_at,
    finished_at)
SELECT e.account_id, m.id, e.id, gen_random_uuid(),
    'campaign:' || m.campaign_id || ':conversation:' || e.csid, m.campaign_id, e.csid,
    e.requester_email, e.requester_phone,
    jsonb_build_object('respondent', jsonb_build_object('emailAddress', e.requester_email,
        'phoneNumber', e.requester_phone, 'firstName', 'Customer'),
        'employee', jsonb_build_object('firstName', 'Karla'), 'externalId', e.csid::text),
    s.status, e.processed_at, e.processed_at, NULL,
    CASE s.status WHEN 'delivered' THEN 1 WHEN 'failed' THEN 5 ELSE 0 END,
    CASE s.status WHEN 'delivered' THEN 201 WHEN 'failed' THEN 503 END,
    CASE s.status WHEN 'failed' THEN 'nps.today answered 503 five times'
         WHEN 'cancelled' THEN 'cancelled by admin' WHEN 'held' THEN 'nps.today key disabled'
         ELSE '' END,
    e.processed_at, e.processed_at,
    CASE WHEN s.status IN ('delivered', 'failed', 'cancelled')
         THEN e.processed_at + interval '300 milliseconds' END
FROM integrations_inboundevent e
JOIN ivr_ivrmapping m ON m.account_id = e.account_id AND m.queue_id = e.queue_id
CROSS JOIN LATERAL (SELECT CASE WHEN e.csid %% 50 = 1 THEN 'failed'
    WHEN e.csid %% 100 = 2 THEN 'pending' WHEN e.csid %% 100 = 12 THEN 'held'
    WHEN e.csid %% 100 = 22 THEN 'cancelled' ELSE 'delivered' END AS status) AS s
WHERE e.id > %(base)s AND e.outcome = 'handled'
"""

ATTEMPTS = """
INSERT INTO ivr_deliveryattempt (
    trigger_id, number, scheduled_for, created_at, task_id, request_url, request_headers,
    request_body, response_status_code, response_headers, response_body, duration_ms, error,
    outcome)
SELECT t.id, n, t.created_at, t.created_at + make_interval(mins => n - 1), '',
    'https://api.nps.today/campaigns/' || t.campaign_id || '/respondent',
    '{"Authorization": "apikey …"}'::jsonb, t.payload, t.last_status_code, '{}'::jsonb, '',
    120, '', CASE WHEN t.status = 'delivered' THEN 'success'
                  WHEN n < t.attempt_count THEN 'retry' ELSE 'failed' END
FROM ivr_surveytrigger t CROSS JOIN LATERAL generate_series(1, t.attempt_count) AS n
WHERE t.inbound_event_id > %(base)s
"""
