"""Section 4, delivery throughput: a backlog of surveys for many nps.today keys (so the
10/s per-key limit is not what is measured), the fake answering each in 50 ms, drained by
the http workers as `make run` starts them (Celery, 32 threads, one process per core;
batches of surveys sent side by side on each process's sender threads), then by one."""

import os

import psycopg
import redis

from bench import accounts, closes, load, stack
from bench.report import NOISE, table, verdict
from integrations import launcher

ACCOUNTS = 40
BACKLOG = 1200
ANSWER_SECONDS = 0.05
GOAL_PER_SECOND = 200.0
# http worker processes per drain (launcher.http_worker each): as deployed (one per core),
# then one, to show what one process's CPU limits.
DEPLOYED = launcher.http_worker_processes()
CONFIGS = (DEPLOYED, 1) if DEPLOYED > 1 else (1,)
SECOND_BACKLOG = 500  # smaller, to keep the section short
SENDERS = 20  # NPSTODAY_CONCURRENT_SENDS, as deployed


def run() -> tuple[str, dict]:
    processes = stack.Processes(stack.env())
    raw: dict = {"drains": []}
    try:
        fake, fake_url = processes.fake_npstoday(
            [accounts.npstoday_key(i) for i in range(ACCOUNTS)]
        )
        # The backlog waits in Redis until the http worker starts; the dispatcher must not
        # hand it over a second time meanwhile (the default is 30 s).
        processes.env = environment = stack.env(
            NPSTODAY_API_URL=fake_url, SURVEY_REQUEUE_AFTER_SECONDS=900
        )
        keys = accounts.prepare(environment, ACCOUNTS)
        running, port = processes.platform(http_worker=False)
        for index, workers in enumerate(CONFIGS):
            size = BACKLOG if index == 0 else SECOND_BACKLOG
            raw["drains"].append(
                _drain(processes, running, port, keys, fake, fake_url, workers, size)
            )
            closes.reset(fake_url)
    finally:
        processes.stop()
    return render(raw), raw


def _drain(processes, running, port, keys, fake, fake_url, workers: int, size: int) -> dict:
    closes.script(fake_url, behaviours=[{"hang": ANSWER_SECONDS}] * (size + 200))
    requests, csids = closes.requests(keys, size, port)
    ingest = load.closed_loop("127.0.0.1", port, requests, 16)
    stack.wait_until(lambda: _surveys(csids, "pending") == size, 240, "the backlog of surveys")
    queued = redis.Redis.from_url(stack.REDIS_URL).llen("surveys")

    started = [processes.http_worker(name=f"worker-http-{i}", wait=False) for i in range(workers)]
    for worker in started:
        worker.wait_for_log("ready.")
    groups = {f"worker-http-{i}": w.pids for i, w in enumerate(started)}
    meter = stack.CpuMeter(
        **groups,
        postgres=stack.postgres_pids,
        fake=fake.pids,
        redis=stack.redis_pids,
        **{name: p.pids for name, p in running.items()},
    )
    meter.start()
    before = _surveys(csids, "delivered")
    stack.wait_until(lambda: _surveys(csids, "delivered") == size, 240, "the backlog delivered")
    cpu = meter.stop()
    members = size - before
    for worker in started:
        worker.stop()

    arrived = closes.arrivals(fake_url)
    times = sorted(arrived[c] for c in csids)
    lo, hi = times[len(times) // 10], times[len(times) * 9 // 10]
    return {
        "http_worker_processes": workers,
        "backlog": size,
        "ingest_statuses": ingest.statuses,
        "redis_surveys_queue_length": queued,
        "members_per_second": (len(times) - 1) / (times[-1] - times[0]),
        "members_per_second_middle_80pct": (len(times) * 8 // 10) / (hi - lo),
        "members_measured": members,
        "seconds": meter.seconds,
        "cpu_ms_per_member": {k: v / members * 1000 for k, v in cpu.items()},
        "cores": {k: v / meter.seconds for k, v in cpu.items()},
        "per_key_peak": closes.per_key_peak(fake_url),
    }


def _surveys(csids: list[int], status: str) -> int:
    with psycopg.connect(stack.PG_URL) as conn:
        return conn.execute(
            "SELECT count(*) FROM ivr_surveytrigger WHERE status = %s AND csid = ANY(%s)",
            [status, csids],
        ).fetchone()[0]


def render(raw: dict) -> str:
    first = raw["drains"][0]
    rate = first["members_per_second"]
    ok = rate >= GOAL_PER_SECOND
    raw["summary"] = [
        [
            f"delivery throughput, {first['http_worker_processes']} http worker "
            "process(es) (as deployed: one per core)",
            f"{rate:.0f} members/s",
            f"≥ {GOAL_PER_SECOND:.0f}/s",
            ok,
        ]
    ]
    for d in raw["drains"][1:]:
        raw["summary"].append(
            [
                f"delivery throughput, {d['http_worker_processes']} http worker process(es)",
                f"{d['members_per_second']:.0f} members/s",
                "",
                None,  # shown for comparison: the goal is for the workers as deployed
            ]
        )
    names = [_label(d) for d in raw["drains"]]
    processes = [k for k in first["cores"] if k not in NOISE and first["cores"][k] >= 0.005]
    for d in raw["drains"][1:]:
        processes += [k for k in d["cores"] if k not in processes and k not in NOISE]
    return "\n".join(
        [
            "## 4. Delivery throughput: draining a backlog of surveys",
            "",
            "Command: `make bench BENCH_ARGS=throughput`. Raw: `bench/out/throughput.json`.",
            "",
            f"{ACCOUNTS} accounts, each with its own nps.today key (the 10/s per-key limit "
            f"allows {ACCOUNTS * 10}/s in all), the fake nps.today answering every member "
            f"request after {ANSWER_SECONDS * 1000:.0f} ms. With the http workers stopped, "
            f"{first['backlog']} closes were ingested and processed by the events worker, "
            "leaving as many surveys pending, in "
            f"{first['redis_surveys_queue_length']} messages in Redis (queue `surveys`; a "
            "batch of events publishes its surveys together, up to 10 to a message). Then the "
            f"http workers were started as `make run` starts them, {first['http_worker_processes']}"
            " on this machine, one per core (`launcher.http_worker` each: Celery, queues "
            "`surveys,dixa`, "
            "thread pool of 32, prefetch multiplier 1; each task sends its batch side by side "
            f"on the process's {SENDERS} sender threads, so with answers in "
            f"{ANSWER_SECONDS * 1000:.0f} ms one process can send at most "
            f"{SENDERS / ANSWER_SECONDS:.0f}/s) and timed until the last member arrived; web, "
            "the events "
            "worker, beat and the dispatcher kept running. A second drain "
            f"({raw['drains'][-1]['backlog']} surveys) used one such process alone, to show "
            "what the CPU of one process limits. `SURVEY_REQUEUE_AFTER_SECONDS=900` keeps the "
            "dispatcher from "
            "handing the waiting backlog over a second time.",
            "",
            *table(
                [
                    "http worker",
                    "members/s (first to last)",
                    "members/s (middle 80 %)",
                    "busiest key in one second",
                ],
                [
                    [
                        name,
                        f"**{d['members_per_second']:.0f}**",
                        f"{d['members_per_second_middle_80pct']:.0f}",
                        f"{d['per_key_peak']} (limit 10)",
                    ]
                    for name, d in zip(names, raw["drains"], strict=True)
                ],
            ),
            "",
            f"Goal ≥ {GOAL_PER_SECOND:.0f} members/s with the workers as deployed: {verdict(ok)}.",
            "",
            "CPU during each drain (ms per member, and cores: CPU over the drain's length):",
            "",
            *table(
                ["process", *(f"{n}: ms/member" for n in names), *(f"{n}: cores" for n in names)],
                [
                    [
                        p,
                        *(_cell(d["cpu_ms_per_member"], p) for d in raw["drains"]),
                        *(_cell(d["cores"], p) for d in raw["drains"]),
                    ]
                    for p in processes + list(NOISE)
                ],
            ),
            "",
            *(_limit(d, name) for name, d in zip(names, raw["drains"], strict=True)),
            "",
        ]
    )


def _limit(drain: dict, name: str) -> str:
    """What the figures say limited this drain."""
    cores = drain["cores"]
    ours = {k: v for k, v in cores.items() if k not in NOISE}
    busiest = max(ours, key=ours.get)
    machine = sum(ours.values()) + cores["rest of machine"]
    http = sum(v for k, v in ours.items() if k.startswith("worker-http"))
    workers = drain["http_worker_processes"]
    text = (
        f"- {name}: the busiest process was {busiest} at {ours[busiest]:.2f} cores; the http "
        f"worker process(es) together {http:.2f} cores, PostgreSQL {ours.get('postgres', 0):.2f}"
        f", the fake nps.today {ours.get('fake', 0):.2f}; the whole machine {machine:.2f} of "
        f"{os.cpu_count()} cores busy ({cores['rest of machine']:.2f} of them not ours)"
    )
    per_member = drain["cpu_ms_per_member"]
    platform = sum(v for k, v in per_member.items() if k not in (*NOISE, "fake", "load generator"))
    http_ms = sum(v for k, v in per_member.items() if k.startswith("worker-http"))
    cpus = os.cpu_count()
    text += (
        f". The platform spent {platform:.1f} ms of CPU per member (its processes, PostgreSQL "
        f"and Redis; the http worker {http_ms:.1f}): with nothing else on the machine, "
        f"{cpus} cores carry at most about {cpus * 1000 / platform:.0f} members/s, and "
        + (
            "one http worker process, held to one core by its interpreter lock (its 32 threads "
            "share it),"
            if workers == 1
            else f"{workers} http worker processes, each held to one core by its interpreter lock,"
        )
        + f" at most about {1000 / http_ms * workers:.0f}."
    )
    if machine >= 0.9 * cpus:
        text += " During this drain **the two cores were full**, so CPU per member set the rate."
    elif busiest.startswith("worker-http") and ours[busiest] >= 0.8:
        text += (
            f" During this drain **{busiest} was CPU-bound** ({ours[busiest]:.2f} of its one "
            "core), so its CPU per member set the rate."
        )
    return text


def _label(drain: dict) -> str:
    n = drain["http_worker_processes"]
    return "1 process × 32 threads" if n == 1 else f"{n} processes × 32 threads"


def _cell(values: dict[str, float], key: str) -> str:
    return f"{values[key]:.2f}" if key in values else "–"
