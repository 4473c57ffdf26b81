"""Section 1, ingest: `POST /api/dixa/relay` (DixaRelayView, DRF, under Django's handler and
full middleware) against a bare Django view and a bare DRF view, on the same server."""

import json
import statistics
import subprocess
import sys

import psycopg

from bench import accounts, inprocess, load, stack
from bench.report import ms, spread, table, verdict
from integrations.dixa import samples, simulator

ENDPOINTS = {
    "bare Django view": "/bench/bare",
    "bare DRF view": "/bench/bare-drf",
    "ingest": "/api/dixa/relay",
}
WEB_WORKERS, WEB_THREADS = 2, 16  # the launcher's defaults, as `make run` serves
CONCURRENCY = 16
ROUNDS = 4
PER_ROUND = 1200
RATE = 200
RATE_SECONDS = 10
FLOOR_RATIO = 0.40
P99_GOAL_MS = 50.0
SUBPROCESS_TIMEOUT = 300  # seconds; the section must end by itself


def _requests(port: int, path: str, key: str, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        d = simulator.build_delivery(
            samples.event("ConversationClosed"), key=key, secret=accounts.SECRET
        )
        out.append(load.raw_request("127.0.0.1", port, path, d.body, d.headers))
    return out


def _add(into: dict, statuses: dict) -> None:
    for code, n in statuses.items():
        into[code] = into.get(code, 0) + n


def measure(port: int, key: str, web: stack.Process) -> dict:
    statuses = {name: {} for name in ENDPOINTS}
    for name, path in ENDPOINTS.items():  # warm up: imports, connections, prepared statements
        warm = load.closed_loop("127.0.0.1", port, _requests(port, path, key, 300), CONCURRENCY)
        _add(statuses[name], warm.statuses)

    # Latency first, on a warm server that no flood has just hit (autovacuum, checkpoints).
    meter = stack.CpuMeter(web=web.pids, postgres=stack.postgres_pids)
    latency = {}
    for name, path in ENDPOINTS.items():
        requests = _requests(port, path, key, RATE * RATE_SECONDS)
        meter.start()
        result = load.open_loop("127.0.0.1", port, requests, RATE)
        used = meter.stop()
        latency[name] = {
            **spread(result.latencies_ms),
            "over 50 ms, by second": load.slow_by_second(result, RATE, P99_GOAL_MS),
            "cores": {k: v / meter.seconds for k, v in used.items()},
        }
        _add(statuses[name], result.statuses)

    throughput = {name: [] for name in ENDPOINTS}
    cpu = {name: [] for name in ENDPOINTS}
    names = list(ENDPOINTS)
    for r in range(ROUNDS):  # alternating, the order rotated, so noise hits all alike
        for name in names[r % 3 :] + names[: r % 3]:
            requests = _requests(port, ENDPOINTS[name], key, PER_ROUND)
            meter.start()
            result = load.closed_loop("127.0.0.1", port, requests, CONCURRENCY)
            used = meter.stop()
            cpu[name].append({k: v / PER_ROUND * 1e6 for k, v in used.items()})
            throughput[name].append(result.throughput)
            _add(statuses[name], result.statuses)

    return {
        "throughput": throughput,
        "cpu": cpu,
        "latency": latency,
        "statuses": statuses,
        "web_rss_mib": stack.rss_mib(web.pids()),
    }


def _subprocess(module: str, environment: dict, key: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", module, key, accounts.SECRET],
        cwd=stack.ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=SUBPROCESS_TIMEOUT,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run() -> tuple[str, dict]:
    environment = stack.env()
    [key] = accounts.prepare(environment, 1)
    processes = stack.Processes(environment)
    try:
        web, port = processes.web(WEB_WORKERS, WEB_THREADS)
        raw = measure(port, key, web)
    finally:
        processes.stop()
    with psycopg.connect(stack.PG_URL) as conn:
        raw["stored"] = conn.execute("SELECT count(*) FROM integrations_inboundevent").fetchone()[0]
    raw["in_process"] = _subprocess("bench.inprocess", environment, key)
    raw["profile"] = _subprocess("bench.profile", environment, key)
    med = {name: statistics.median(values) for name, values in raw["throughput"].items()}
    raw["ratios"] = {
        "ingest/bare Django": med["ingest"] / med["bare Django view"],
        "ingest/bare DRF": med["ingest"] / med["bare DRF view"],
    }
    p99 = raw["latency"]["ingest"]["p99"]
    raw["summary"] = [
        [
            "ingest throughput / bare Django view",
            f"{raw['ratios']['ingest/bare Django']:.2f}",
            f"≥ {FLOOR_RATIO:.2f}",
            raw["ratios"]["ingest/bare Django"] >= FLOOR_RATIO,
        ],
        ["ingest throughput / bare DRF view", f"{raw['ratios']['ingest/bare DRF']:.2f}", "", None],
        [
            f"ingest p99 at {RATE} req/s",
            f"{ms(p99)} ms",
            f"≤ {P99_GOAL_MS:.0f} ms",
            p99 <= P99_GOAL_MS,
        ],
    ]
    return render(raw), raw


def render(raw: dict) -> str:
    th, lat, ip = raw["throughput"], raw["latency"], raw["in_process"]
    med = {name: statistics.median(values) for name, values in th.items()}
    vs_django, vs_drf = raw["ratios"]["ingest/bare Django"], raw["ratios"]["ingest/bare DRF"]
    per_round = [i / b for i, b in zip(th["ingest"], th["bare Django view"], strict=True)]
    lines = [
        "## 1. Ingest: `POST /api/dixa/relay` against bare Django and DRF views",
        "",
        "Command: `make bench BENCH_ARGS=ingest` (`python -m bench.run ingest`). Raw: "
        "`bench/out/ingest.json`.",
        "",
        f"gunicorn from `launcher.web` ({WEB_WORKERS} gthread workers × {WEB_THREADS} threads, "
        "access log on, as `make run`), Django's handler and full middleware stack for all "
        "three endpoints, PostgreSQL; no worker or dispatcher running, so this is the "
        "acknowledgement path alone. Each ingest request is a distinct ConversationClosed "
        "with a fresh X-DIXA-SIGNATURE: API-key auth, signature check, envelope parse, and the "
        "one INSERT (event + body + NOTIFY) committed before the 202. The bare views read the "
        "same body and answer 202 (`bench/urls.py`). Every request opens its own connection "
        "(`Connection: close`).",
        "",
        f"**Throughput** (closed loop, {CONCURRENCY} connections, {ROUNDS} rounds of "
        f"{PER_ROUND} requests per endpoint, endpoints alternating within each round, after "
        "the latency runs below):",
        "",
        *table(
            ["endpoint", "req/s per round", "median req/s"],
            [
                [name, ", ".join(f"{v:.0f}" for v in values), f"{med[name]:.0f}"]
                for name, values in th.items()
            ],
        ),
        "",
        f"**Ingest / bare Django view: {vs_django:.2f}** (floor ≥ {FLOOR_RATIO:.2f}: "
        f"{verdict(vs_django >= FLOOR_RATIO)}); **ingest / bare DRF view: {vs_drf:.2f}**; "
        "ratios of the medians. Ingest against the bare Django round of the same round: "
        f"{', '.join(f'{v:.2f}' for v in per_round)}.",
        "",
        "CPU per request during those rounds (µs, median of rounds; everything shares two "
        "cores, so throughput follows the sum; *rest of machine* is every other process on "
        "these shared cores, e.g. other test runs, and *stolen* the hypervisor's share, both "
        "per request of the round: the noise each round saw):",
        "",
        *table(
            [
                "endpoint",
                "web (gunicorn)",
                "PostgreSQL",
                "load generator",
                "total",
                "rest of machine",
                "stolen",
            ],
            [_cpu_row(name, rounds) for name, rounds in raw["cpu"].items()],
        ),
        "",
        f"**Latency at a steady {RATE} requests/s**, measured first, on the warmed-up server "
        f"(open loop, {RATE * RATE_SECONDS} requests per endpoint, one endpoint after the "
        "other, from when each request was due, ms; *others* is the CPU every other process "
        "on the machine used meanwhile, in cores):",
        "",
        *table(
            ["endpoint", "p50", "p95", "p99", "max", "others"],
            [
                [
                    name,
                    *(ms(v[k]) for k in ("p50", "p95", "p99", "max")),
                    f"{v['cores']['rest of machine']:.2f}",
                ]
                for name, v in lat.items()
            ],
        ),
        "",
        f"Ingest p99 ≤ {P99_GOAL_MS:.0f} ms at {RATE}/s: "
        f"{verdict(lat['ingest']['p99'] <= P99_GOAL_MS)}. Requests over {P99_GOAL_MS:.0f} ms, "
        "by the second they were due in: "
        + "; ".join(f"{name} {v['over 50 ms, by second'] or 'none'}" for name, v in lat.items())
        + ".",
        "",
        "**CPU per request in one process** (`python -m bench.inprocess`: Django's WSGI "
        "application, its handler and whole middleware stack, called in a loop; gunicorn, "
        f"the load generator and PostgreSQL's CPU left out; {inprocess.BLOCKS} interleaved "
        f"blocks of {inprocess.PER_BLOCK} requests per endpoint, µs):",
        "",
        *table(
            ["endpoint", "best block", "median block", "bare Django / this (median)"],
            [
                [
                    name,
                    f"{v['min']:.0f}",
                    f"{v['median']:.0f}",
                    f"{ip['bare Django view']['median'] / v['median']:.2f}",
                ]
                for name, v in ip.items()
            ],
        ),
        "",
        _reading(raw),
        "",
        *_profile_lines(raw["profile"]),
        "",
        f"Status codes: {', '.join(f'{n} {s}' for n, s in raw['statuses'].items())}; events "
        f"stored after the server rounds: {raw['stored']} (every 202 a committed row: "
        f"{raw['stored'] == raw['statuses']['ingest'].get(202, 0)}). Web RSS after the run "
        f"(master + workers): {raw['web_rss_mib']:.0f} MiB.",
        "",
    ]
    return "\n".join(lines)


def _reading(raw: dict) -> str:
    """The in-process and server CPU figures, read against each other."""
    ip = {name: v["median"] for name, v in raw["in_process"].items()}
    django, drf, ingest = ip.values()
    web = {name: statistics.median(r["web"] for r in rounds) for name, rounds in raw["cpu"].items()}
    groups = raw["profile"]["groups_share"]
    handler = sum(v for k, v in groups.items() if k.startswith(("Django handler", "Django middle")))
    ours = sum(
        v
        for k, v in groups.items()
        if k.startswith(("auth", "signature", "envelope", "ingest service"))
    )
    return (
        f"Read together: in one process DRF's APIView adds {drf - django:.0f} µs to the bare "
        f"Django view, and ingest's own work (auth, signature, parse, the INSERT) "
        f"{ingest - drf:.0f} µs more, so ingest costs {ingest / django:.1f}× the bare view's "
        "CPU there. In the server, gunicorn's own work (accepting the connection, parsing "
        "HTTP, the access log, handing the request to a thread) adds about "
        f"{web['bare Django view'] - django:.0f} µs to every request (web CPU per request in "
        "the rounds minus the in-process figure, bare view), and PostgreSQL's commit and the "
        "load generator add more, which is why the throughput ratio is much closer to 1 than "
        f"the CPU ratio. Of ingest's in-process CPU, Django's handler and middleware take "
        f"{handler * 100:.0f} %, DRF {groups.get(_DRF, 0) * 100:.0f} %, SQL (psycopg and "
        f"Django's backend) {groups.get(_SQL, 0) * 100:.0f} %, and the relay's own code "
        f"(auth, signature, envelope, row values) {ours * 100:.0f} % (profile below)."
    )


_DRF = "DRF: APIView dispatch, request wrapper, negotiation, rendering"
_SQL = "SQL: Django's backend and psycopg"


def _cpu_row(name: str, rounds: list[dict[str, float]]) -> list:
    parts = ("web", "postgres", "load generator")
    med = {
        p: statistics.median(r[p] for r in rounds) for p in (*parts, "rest of machine", "stolen")
    }
    ours = sum(med[p] for p in parts)
    return [
        name,
        *(f"{med[p]:.0f}" for p in parts),
        f"{ours:.0f}",
        f"{med['rest of machine']:.0f}",
        f"{med['stolen']:.0f}",
    ]


def _profile_lines(prof: dict) -> list[str]:
    groups = [[name, f"{share * 100:.1f} %"] for name, share in prof["groups_share"].items()]
    entries = [[name, f"{share * 100:.1f} %"] for name, share in prof["entries_share"].items()]
    top = [
        [f"`{t['function']}`", f"{t['share'] * 100:.1f} %", f"{t['calls_per_request']:.1f}"]
        for t in prof["top_own_time"][:10]
    ]
    return [
        f"**Where ingest's CPU goes** (`python -m bench.profile`: cProfile on CPU time over "
        f"{prof['requests']} in-process ingest requests, {prof['total_us_per_request']:.0f} µs "
        "per request with the profiler's own overhead; own time per group, time in the "
        "standard library and built-ins charged to the group that called it):",
        "",
        *table(["group", "share of CPU"], groups),
        "",
        "Inclusive time of the main steps (they nest, so they do not add up):",
        "",
        *table(["step", "share of CPU"], entries),
        "",
        "Top functions by own time:",
        "",
        *table(["function", "own time", "calls per request"], top),
    ]
