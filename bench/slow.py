"""Section 3, a slow nps.today: the fake answers every member request after 8 s. The calls
to nps.today wait in the http worker (queues `surveys,dixa`), so closes must still be
processed (their outcome recorded) as fast as ever by the events worker (queue `events`)."""

import time

import psycopg

from bench import accounts, closes, load, stack
from bench.report import ms, spread, table, verdict

ACCOUNTS = 10
HANG_SECONDS = 8
RATE = 20
SECONDS = 10
P50_GOAL_MS = 100.0


def run() -> tuple[str, dict]:
    processes = stack.Processes(stack.env())
    try:
        _fake, fake_url = processes.fake_npstoday(
            [accounts.npstoday_key(i) for i in range(ACCOUNTS)]
        )
        processes.env = environment = stack.env(NPSTODAY_API_URL=fake_url)
        keys = accounts.prepare(environment, ACCOUNTS)
        running, port = processes.platform()
        warm, warm_csids = closes.requests(keys, 20, port)  # connections, imports
        load.open_loop("127.0.0.1", port, warm, 10)
        stack.wait_until(
            lambda: all(c in closes.arrivals(fake_url) for c in warm_csids), 30, "the warm-up"
        )
        closes.reset(fake_url)

        count = RATE * SECONDS
        closes.script(fake_url, behaviours=[{"hang": HANG_SECONDS}] * (count + 100))
        requests, csids = closes.requests(keys, count, port)
        meter = stack.CpuMeter(
            **{name: p.pids for name, p in running.items()}, postgres=stack.postgres_pids
        )
        meter.start()
        result = load.open_loop("127.0.0.1", port, requests, RATE)
        stack.wait_until(lambda: _unprocessed(csids) == 0, 60, "every close to be processed")
        cores = {k: v / meter.seconds for k, v in meter.stop().items()}
        raw = _figures(csids, result)
        raw["cores"] = cores
        for name, process in running.items():  # their sends would hold the stop for 8 s
            if name.startswith("worker-http"):
                stack.kill_now(process)
    finally:
        processes.stop()
    return render(raw), raw


def _unprocessed(csids: list[int]) -> int:
    with psycopg.connect(stack.PG_URL) as conn:
        return conn.execute(
            "SELECT count(*) FROM integrations_inboundevent WHERE csid = ANY(%s) "
            "AND processed_at IS NULL",
            [csids],
        ).fetchone()[0]


def _figures(csids: list[int], result: load.Result) -> dict:
    with psycopg.connect(stack.PG_URL) as conn:
        delays = [
            float(v)
            for (v,) in conn.execute(
                "SELECT extract(epoch FROM processed_at - received_at) * 1000 "
                "FROM integrations_inboundevent WHERE csid = ANY(%s)",
                [csids],
            )
        ]
        outcomes = dict(
            conn.execute(
                "SELECT outcome, count(*) FROM integrations_inboundevent WHERE csid = ANY(%s) "
                "GROUP BY outcome",
                [csids],
            ).fetchall()
        )
        surveys = dict(
            conn.execute(
                "SELECT status, count(*) FROM ivr_surveytrigger WHERE csid = ANY(%s) "
                "GROUP BY status",
                [csids],
            ).fetchall()
        )
    return {
        "closes": len(csids),
        "processed_minus_received_ms": spread(delays),
        "outcomes": outcomes,
        "surveys_when_all_processed": surveys,
        "ingest_statuses": result.statuses,
        "ingest_latency_ms": spread(result.latencies_ms),
        "last_close_sent_after_s": result.seconds,
    }


def render(raw: dict) -> str:
    d = raw["processed_minus_received_ms"]
    ok = d["p50"] <= P50_GOAL_MS
    raw["summary"] = [
        [
            f"nps.today answering in {HANG_SECONDS} s: close processed, p50",
            f"{ms(d['p50'])} ms",
            f"≤ {P50_GOAL_MS:.0f} ms",
            ok,
        ]
    ]
    return "\n".join(
        [
            f"## 3. A slow nps.today: every member request answered after {HANG_SECONDS} s",
            "",
            "Command: `make bench BENCH_ARGS=slow`. Raw: `bench/out/slow.json`.",
            "",
            "The same processes as section 2; the fake nps.today now holds every member "
            f"request {HANG_SECONDS} s before it answers (tests/fakes' scripted `hang`). "
            f"{raw['closes']} closes at {RATE}/s for {SECONDS} s (open loop), each mapped to a "
            "campaign, so each also makes a survey for the http worker: its 32 threads are all "
            f"waiting on nps.today within {32 / RATE:.1f} s, and the surveys behind them wait "
            "in Redis. Events are processed by the events worker from their own queue.",
            "",
            "From an event's arrival to its recorded outcome (`processed_at − received_at`, ms):",
            "",
            *table(
                ["", "p50", "p95", "p99", "max"],
                [
                    [
                        "close processed",
                        *(ms(d[k]) for k in ("p50", "p95", "p99", "max")),
                    ],
                    [
                        "ingest answer",
                        *(ms(raw["ingest_latency_ms"][k]) for k in ("p50", "p95", "p99", "max")),
                    ],
                ],
            ),
            "",
            f"p50 ≤ {P50_GOAL_MS:.0f} ms: {verdict(ok)}. Outcomes: {raw['outcomes']}. Surveys "
            f"when the last close had been processed: {raw['surveys_when_all_processed']} "
            "(`sending`: a thread waiting on nps.today; `pending`: queued behind them). Ingest "
            f"answered {raw['ingest_statuses']}. CPU meanwhile, in cores: "
            + ", ".join(f"{k} {v:.2f}" for k, v in raw["cores"].items())
            + ".",
            "",
        ]
    )


if __name__ == "__main__":
    began = time.time()
    print(run()[0], f"({time.time() - began:.0f} s)")
