"""Ingest: our signed, stored-before-ack endpoint against a bare Django view, same server."""

import json
import os
import statistics
import subprocess
import sys
import time

import psycopg

from bench import inprocess, load, stack
from config.env import env
from integrations.dixa import samples, simulator

GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", "5"))
CONCURRENCY = 16
ROUNDS = 5
PER_ROUND = 1500
RATE = 200
RATE_SECONDS = 10
SECRET = "be9c4a" * 8


def _requests(port: int, path: str, key: str, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        delivery = simulator.build_delivery(
            samples.event("ConversationClosed"), key=key, secret=SECRET
        )
        out.append(load.raw_request("127.0.0.1", port, path, delivery.body, delivery.headers))
    return out


def run() -> str:
    stack.fresh_database()
    env = stack.env()
    stack.manage("migrate", "--noinput", environment=env)
    config = stack.ROOT / "bench" / "out" / "bench-config.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(
        f"accounts:\n  - name: Bench\n    api_keys: [{{name: bench}}]\n"
        f"    signing_secrets: [{{label: bench, secret: '{SECRET}'}}]\n"
    )
    key = stack.manage("apply_config", str(config), environment=env).strip().splitlines()[-1]
    key = key.rsplit(" ", 1)[-1]

    processes = stack.Processes()
    try:
        server, port = processes.gunicorn(env, GUNICORN_WORKERS)
        statuses = {"bare": {}, "ingest": {}}
        # warm up both paths (imports, connections)
        for name, path in (("bare", "/bench/bare"), ("ingest", "/api/dixa/relay")):
            warm = load.closed_loop("127.0.0.1", port, _requests(port, path, key, 200), CONCURRENCY)
            for code, n in warm.statuses.items():
                statuses[name][code] = statuses[name].get(code, 0) + n

        throughput = {"bare": [], "ingest": []}
        cpu = {"bare": [], "ingest": []}
        meter = stack.CpuMeter(server.pid)
        for _ in range(ROUNDS):  # alternate so that machine noise hits both alike
            for name, path in (("bare", "/bench/bare"), ("ingest", "/api/dixa/relay")):
                requests = _requests(port, path, key, PER_ROUND)
                meter.start()
                result = load.closed_loop("127.0.0.1", port, requests, CONCURRENCY)
                cpu[name].append(meter.stop(PER_ROUND))
                throughput[name].append(result.throughput)
                for code, n in result.statuses.items():
                    statuses[name][code] = statuses[name].get(code, 0) + n

        latency = {}
        for name, path in (("bare", "/bench/bare"), ("ingest", "/api/dixa/relay")):
            latency[name] = load.open_loop(
                "127.0.0.1", port, _requests(port, path, key, RATE * RATE_SECONDS), RATE
            )
            for code, n in latency[name].statuses.items():
                statuses[name][code] = statuses[name].get(code, 0) + n
        memory = stack.rss_mib(server.pid)
    finally:
        processes.stop()

    with psycopg.connect(stack.PG_URL) as conn:
        stored = conn.execute("SELECT count(*) FROM integrations_inboundevent").fetchone()[0]
    in_process = _in_process(env, key)

    med = {name: statistics.median(values) for name, values in throughput.items()}
    ratio = med["ingest"] / med["bare"]
    accepted = statuses["ingest"].get(202, 0)
    lines = [
        "## Ingest: `POST /api/dixa/relay` vs a bare Django view",
        "",
        f"gunicorn, {_server()}, serving the platform's WSGI entry point ({_entry_point()}), "
        "PostgreSQL, Redis broker (no Celery worker "
        "running, so the figures are the acknowledgement path alone). Every ingest request is a "
        "distinct ConversationClosed event with a fresh X-DIXA-SIGNATURE, authenticated by API "
        "key, verified, parsed and committed before the 202 (nothing else: the worker's "
        "dispatcher finds new rows itself). "
        "The bare view reads the same body and answers 202. Connections are not kept alive "
        "(gunicorn sync workers close them), so each request includes a TCP connect.",
        "",
        f"**Throughput** (closed loop, {CONCURRENCY} connections, {ROUNDS} alternating rounds of "
        f"{PER_ROUND} requests, median of rounds):",
        "",
        "| endpoint | req/s per round | median req/s |",
        "|---|---|---|",
        f"| bare view | {', '.join(f'{v:.0f}' for v in throughput['bare'])} | {med['bare']:.0f} |",
        f"| ingest | {', '.join(f'{v:.0f}' for v in throughput['ingest'])} | {med['ingest']:.0f} |",
        "",
        f"**Ingest / bare throughput: {ratio:.2f}** (goal ≥ 0.60), the ratio of the medians. "
        "Each ingest round against the bare round just before it: "
        f"{', '.join(f'{i / b:.2f}' for b, i in zip(*throughput.values(), strict=True))}.",
        "",
        "**CPU per request** during those rounds (µs, median of rounds; the three share the "
        "machine's cores, so throughput follows their sum):",
        "",
        "| endpoint | web server | PostgreSQL | load generator | total |",
        "|---|---|---|---|---|",
        *(_cpu_row(name, cpu[name]) for name in ("bare", "ingest")),
        "",
        f"**Latency at {RATE} requests/s** (open loop, {RATE * RATE_SECONDS} requests, measured "
        "from when each request was due):",
        "",
        "| endpoint | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for name in ("bare", "ingest"):
        r = latency[name]
        lines.append(
            f"| {name} | {r.p50:.1f} | {r.percentile(95):.1f} | {r.percentile(99):.1f} | "
            f"{max(r.latencies_ms):.1f} |"
        )
    lines += [
        "",
        f"Goal: ingest p99 ≤ 50 ms at {RATE}/s → "
        f"{'met' if latency['ingest'].percentile(99) <= 50 else 'NOT met'}.",
        "",
        f"**CPU per request in one process** (`python -m bench.inprocess`: the WSGI "
        "application called directly, so gunicorn, the load generator and PostgreSQL's own CPU "
        f"are left out, and with them most of the machine's noise; {inprocess.BLOCKS} "
        f"interleaved blocks of {inprocess.PER_BLOCK} requests, µs):",
        "",
        "| path | best block | median block |",
        "|---|---|---|",
        *(f"| {name} | {v['min']:.0f} | {v['median']:.0f} |" for name, v in in_process.items()),
        "",
        f"Status codes: bare {statuses['bare']}, ingest {statuses['ingest']}; events stored: "
        f"{stored} (every 202 is a committed row: {stored == accepted}). "
        f"Gunicorn RSS after the run (master + workers): {memory:.0f} MiB.",
        "",
    ]
    return "\n".join(lines)


def _in_process(env: dict, key: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", key, SECRET],
        cwd=stack.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _entry_point() -> str:
    if not env.bool("INGEST_FAST_PATH", default=True):
        return "INGEST_FAST_PATH=0: deliveries take Django's whole middleware stack"
    return "deliveries by its fast path, the bare view through Django's middleware stack"


def _server() -> str:
    threads = os.environ.get("BENCH_THREADS")
    if threads:
        return f"{GUNICORN_WORKERS} gthread workers × {threads} threads"
    return f"{GUNICORN_WORKERS} sync workers"


def _cpu_row(name: str, rounds: list[dict[str, float]]) -> str:
    parts = ("web", "postgres", "load generator")
    med = {p: statistics.median(r[p] for r in rounds) for p in parts}
    cells = " | ".join(f"{med[p]:.0f}" for p in parts)
    return f"| {name} | {cells} | {sum(med.values()):.0f} |"


if __name__ == "__main__":
    began = time.time()
    print(run())
    print(f"({time.time() - began:.0f} s)")
