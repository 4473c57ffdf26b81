"""Where ingest's CPU goes: cProfile (on CPU time, not wall time, so waits for PostgreSQL
do not count) of the in-process WSGI loop of `bench.inprocess`, the time grouped by what
the code is for.

Every function's own time goes to the group of its file; time in the standard library and
in built-ins (hmac, json, socket writes, ...) goes to the group of the code that called it,
split by the call edges' time. `python -m bench.profile KEY SECRET` prints JSON.
"""

import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

from bench import inprocess

ROOT = str(Path(__file__).resolve().parents[1]) + "/"

REQUESTS = 2000
PATH = "/api/dixa/relay"

# (group, substrings of the file path); the first match wins; no match: charged to callers
GROUPS = [
    (
        "DB connection housekeeping (request_started/finished signals)",
        ("django/db/__init__.py",),
    ),
    ("SQL: Django's backend and psycopg", ("/django/db/", "/psycopg/", "psycopg_binary")),
    ("DRF: APIView dispatch, request wrapper, negotiation, rendering", ("/rest_framework/",)),
    (
        "Django middleware (security, whitenoise, session, common, csrf, auth, messages, ...)",
        (
            "/django/middleware/",
            "/django/contrib/sessions/",
            "/django/contrib/auth/",
            "/django/contrib/messages/",
            "/whitenoise/",
            "integrations/middleware.py",
            "django/utils/deprecation.py",
        ),
    ),
    (
        "auth: API key (header, cached lookup, hash compare)",
        (
            "integrations/api/authentication.py",
            "integrations/api/auth.py",
            "integrations/services/api_keys.py",
            "integrations/ttl_cache.py",
        ),
    ),
    ("signature: X-DIXA-SIGNATURE HMAC", ("integrations/dixa/signature.py",)),
    ("envelope: JSON parse and fields", ("integrations/dixa/envelope.py",)),
    (
        "ingest service and view (row values, kept headers)",
        ("integrations/services/ingest.py", "integrations/api/views.py"),
    ),
    (
        "Django handler: WSGIRequest, URL resolver, HttpResponse, signals",
        ("/django/core/handlers/", "/django/http/", "/django/urls/", "/django/dispatch/"),
    ),
    ("the benchmark's WSGI loop", ("bench/inprocess.py", "bench/profile.py")),
]
# inclusive (cumulative) time of these functions: (file suffix, function name)
ENTRIES = [
    ("django/core/handlers/wsgi.py", "__call__", "Django WSGIHandler.__call__ (everything)"),
    ("rest_framework/views.py", "dispatch", "APIView.dispatch"),
    ("rest_framework/views.py", "initial", "APIView.initial (auth, permissions, throttles)"),
    ("integrations/api/authentication.py", "authenticate", "ApiKeyAuthentication.authenticate"),
    ("integrations/api/views.py", "post", "DixaRelayView.post"),
    ("integrations/dixa/signature.py", "verify", "signature.verify"),
    ("integrations/dixa/envelope.py", "parse", "envelope.parse"),
    ("integrations/services/ingest.py", "inbound_event_record", "inbound_event_record (SQL)"),
    ("rest_framework/views.py", "finalize_response", "APIView.finalize_response"),
    ("rest_framework/response.py", "rendered_content", "Response.rendered_content (JSON)"),
    ("django/db/__init__.py", "close_old_connections", "close_old_connections (signals)"),
]


def group_of(filename: str) -> str | None:
    path = filename.replace("\\", "/")
    for name, needles in GROUPS:
        if any(n in path for n in needles):
            return name
    return None


def grouped(stats: dict) -> dict[str, float]:
    """Own time per group; the own time of a function outside every group is split over
    its callers by call edge, and climbs until it reaches a grouped caller."""
    shares: dict = {}  # function -> {group: fraction} for time spent on its behalf

    def share_of(func) -> dict[str, float]:
        group = group_of(func[0])
        if group is not None:
            return {group: 1.0}
        if func in shares:
            return shares[func] or {"other": 1.0}  # None: a cycle being worked out
        shares[func] = None
        callers = stats[func][4] if func in stats else {}
        total = sum(edge[3] for edge in callers.values())
        result: dict[str, float] = {}
        if not callers or total <= 0:
            result = {"other": 1.0}
        for caller, edge in callers.items():
            if total > 0:
                for g, f in share_of(caller).items():
                    result[g] = result.get(g, 0.0) + f * edge[3] / total
        shares[func] = result
        return result

    out: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, callers) in stats.items():
        if tt <= 0:
            continue
        if group_of(func[0]) is not None or not callers:
            parts = [(share_of(func), tt)]
        else:  # this function's own time, split by the edge it was called through
            own = sum(edge[2] for edge in callers.values()) or tt
            parts = [(share_of(c), tt * edge[2] / own) for c, edge in callers.items()]
        for distribution, amount in parts:
            for g, f in distribution.items():
                out[g] = out.get(g, 0.0) + amount * f
    return out


def main(key: str, secret: str) -> dict:
    app = inprocess.setup()
    inprocess.call_all(app, inprocess.environs(PATH, key, secret, 300))  # warm up
    envs = inprocess.environs(PATH, key, secret, REQUESTS)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    statuses = inprocess.call_all(app, envs)
    profiler.disable()
    if statuses != {"202"}:
        raise RuntimeError(f"ingest answered {statuses}")
    stats = pstats.Stats(profiler).stats
    total = sum(v[2] for v in stats.values())
    groups = grouped(stats)
    entries = {}
    for suffix, name, label in ENTRIES:
        for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items():
            if func == name and filename.replace("\\", "/").endswith(suffix):
                entries[label] = entries.get(label, 0.0) + ct
    top = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    return {
        "requests": REQUESTS,
        "total_us_per_request": total / REQUESTS * 1e6,
        "groups_share": {k: v / total for k, v in sorted(groups.items(), key=lambda i: -i[1])},
        "entries_share": {k: v / total for k, v in entries.items()},
        "top_own_time": [
            {
                "function": f"{_short(f[0])}:{f[1]}({f[2]})",
                "share": v[2] / total,
                "calls_per_request": v[1] / REQUESTS,
            }
            for f, v in top
        ],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", ROOT, "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
