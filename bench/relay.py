"""The relay end to end: Dixa's POST → gunicorn → Celery → the fake nps.today (its own
process), on PostgreSQL and Redis, with a real worker (2 processes) and beat."""

import itertools
import json
import statistics
import time

import httpx
import psycopg

from bench import load, stack
from integrations.dixa import samples, simulator

ACCOUNTS = 10  # keys: nps.today allows 10 requests/s per key, so spread the load
RATE = 50
SECONDS = 20
BACKLOG = 600
RETRIES = 60
RETRY_SPACING = 2
SECRET = "7e1a7e" * 8
QUEUE = samples.QUEUES[0][0]
_CSIDS = itertools.count(10_000_000)  # unique across phases: arrivals are matched by csid


def _config(path) -> None:
    lines = ["accounts:"]
    for i in range(ACCOUNTS):
        lines += [
            f"  - name: Bench {i}",
            f"    npstoday_api_key: nps-bench-{i}",
            f"    npstoday_retry_seconds: {RETRY_SPACING}",
            "    api_keys: [{name: bench}]",
            f"    signing_secrets: [{{label: bench, secret: '{SECRET}'}}]",
            "    ivr_mappings:",
            f"      - {{name: Bench {i}, campaign_id: 7232, queue_id: '{QUEUE}', "
            "once_per_conversation: false}",
        ]
    path.write_text("\n".join(lines) + "\n")


def _events(keys: list[str], count: int, port: int) -> tuple[list[bytes], list[int]]:
    requests, csids = [], []
    for i in range(count):
        body = samples.event("ConversationClosed")
        body["data"]["conversation"]["queue"] = {"id": QUEUE, "name": "Mail"}
        body["data"]["conversation"]["csid"] = csid = next(_CSIDS)
        csids.append(csid)
        d = simulator.build_delivery(body, key=keys[i % len(keys)], secret=SECRET)
        requests.append(load.raw_request("127.0.0.1", port, "/api/dixa/relay", d.body, d.headers))
    return requests, csids


def _fake_state(url: str) -> dict:
    return httpx.get(f"{url}/__fake__/state", timeout=30).json()


def _arrivals(url: str) -> dict[int, float]:
    """csid -> when the fake first received its member."""
    out: dict[int, float] = {}
    for r in _fake_state(url)["requests"]:
        if r["method"] == "POST" and r["status"] == 200:
            csid = json.loads(json.loads(r["body"])["custom"])["dixaConversationId"]
            out.setdefault(csid, r["at"])
    return out


def _wait_for(url: str, csids: list[int], timeout: float) -> dict[int, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = _arrivals(url)
        if all(c in arrivals for c in csids):
            return arrivals
        time.sleep(1)
    return _arrivals(url)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run() -> str:
    stack.fresh_database()
    processes = stack.Processes()
    try:
        fake = processes.fake_npstoday([f"nps-bench-{i}" for i in range(ACCOUNTS)])
        env = stack.env(
            NPSTODAY_API_URL=fake, TRIGGER_SWEEP_INTERVAL_SECONDS="0.5", LOG_LEVEL="WARNING"
        )
        stack.manage("migrate", "--noinput", environment=env)
        config = stack.ROOT / "bench" / "out" / "relay-config.yaml"
        _config(config)
        out = stack.manage("apply_config", str(config), environment=env)
        keys = [line.rsplit(" ", 1)[-1] for line in out.splitlines() if "shown once" in line]
        server, port = processes.gunicorn(env, 4)
        worker = processes.worker(env, concurrency=2)
        processes.beat(env)
        time.sleep(3)  # let the worker connect

        # 1. latency at RATE events/s
        requests, csids = _events(keys, RATE * SECONDS, port)
        sent_at = time.time() + 0.05
        result = load.open_loop("127.0.0.1", port, requests, RATE)
        arrivals = _wait_for(fake, csids, 120)
        latencies = [
            (arrivals[c] - (sent_at + i / RATE)) * 1000
            for i, c in enumerate(csids)
            if c in arrivals
        ]

        # 2. throughput: a backlog ingested while the worker is stopped, then two processes
        worker.terminate()
        worker.wait(30)
        backlog, backlog_csids = _events(keys, BACKLOG, port)
        load.closed_loop("127.0.0.1", port, backlog, 16)
        began = time.time()
        processes.worker(env, concurrency=2)
        done = _wait_for(fake, backlog_csids, 300)
        finished = max(done[c] for c in backlog_csids if c in done)
        throughput = sum(c in done for c in backlog_csids) / (finished - began)
        per_key_peak = _per_key_peak(fake)

        # 3. retry lateness: the first RETRIES tries fail with 503
        httpx.post(f"{fake}/__fake__/script", json={"behaviours": [{"status": 503}] * RETRIES})
        retry_reqs, retry_csids = _events(keys, RETRIES, port)
        load.open_loop("127.0.0.1", port, retry_reqs, 10)
        _wait_for(fake, retry_csids, 120)
        lateness = _retry_lateness(retry_csids)
        memory = stack.rss_mib(server.pid)
    finally:
        processes.stop()

    lines = [
        "## Relay: Dixa's POST to nps.today's campaign member",
        "",
        f"gunicorn (4 workers), one Celery worker with 2 processes, beat, PostgreSQL, Redis; "
        f"the fake nps.today in its own process; {ACCOUNTS} accounts (one nps.today key each, "
        "so the 10 requests/s per key limit is not what is measured); no delay configured.",
        "",
        f"**End-to-end latency at {RATE} events/s** ({len(csids)} closes over {SECONDS} s, open "
        "loop; from when the POST was due to when the fake received the member): "
        f"p50 **{statistics.median(latencies):.0f} ms**, p95 {_pct(latencies, 95):.0f} ms, "
        f"p99 **{_pct(latencies, 99):.0f} ms**, max {max(latencies):.0f} ms; "
        f"{len(latencies)}/{len(csids)} arrived; ingest answers {result.statuses}. "
        f"Goals p50 ≤ 100 ms: {'met' if statistics.median(latencies) <= 100 else 'NOT met'}; "
        f"p99 ≤ 1 s: {'met' if _pct(latencies, 99) <= 1000 else 'NOT met'}.",
        "",
        f"**Delivery throughput with two worker processes**: a backlog of {BACKLOG} closes "
        f"(ingested while the worker was stopped) was processed and delivered at "
        f"**{throughput:.1f} members/s** (event processing and delivery included). Busiest "
        f"key in any one second: {per_key_peak} requests (limit 10).",
        "",
        _lateness_line(lateness),
        "",
        f"Gunicorn RSS after the run: {memory:.0f} MiB.",
        "",
    ]
    return "\n".join(lines)


def _lateness_line(lateness: list[float]) -> str:
    head = (
        f"**Retry punctuality**: the first {RETRIES} tries answered 503, each failed try retried "
        f"{RETRY_SPACING} s later."
    )
    if not lateness:
        return head + " No second tries were recorded: see bench/out/ logs."
    return (
        f"{head} Each retry's start minus its scheduled time ({len(lateness)} retries): p50 "
        f"{statistics.median(lateness):.2f} s, p95 {_pct(lateness, 95):.2f} s, max "
        f"{max(lateness):.2f} s (goal ≤ 2 s: {'met' if max(lateness) <= 2 else 'NOT met'})."
    )


def _per_key_peak(fake: str) -> int:
    counts: dict[tuple[str, int], int] = {}
    for r in _fake_state(fake)["requests"]:
        if r["method"] == "POST":
            slot = (r.get("key", ""), int(r["at"]))
            counts[slot] = counts.get(slot, 0) + 1
    return max(counts.values()) if counts else 0


def _retry_lateness(csids: list[int]) -> list[float]:
    """Every retry: when it started minus when it was scheduled."""
    with psycopg.connect(stack.PG_URL) as conn:
        rows = conn.execute(
            """
            SELECT a.scheduled_for, a.created_at FROM ivr_deliveryattempt a
            JOIN ivr_surveytrigger t ON t.id = a.trigger_id
            WHERE t.csid = ANY(%s) AND a.number >= 2
            """,
            [csids],
        ).fetchall()
    return [(started - scheduled).total_seconds() for scheduled, started in rows]


if __name__ == "__main__":
    print(run())
