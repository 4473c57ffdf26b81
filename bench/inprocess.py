"""CPU per request inside one process: Django's WSGI application (its handler and the whole
middleware stack, as gunicorn runs it) is called directly in a loop, so the figure leaves
out gunicorn, the load generator and PostgreSQL's own CPU, and with them most of a shared
machine's noise. `bench.ingest` runs it in a subprocess against the benchmark's database:

    python -m bench.inprocess KEY SECRET     # prints JSON
"""

import io
import json
import os
import statistics
import sys
import time

BLOCKS = 12
PER_BLOCK = 300
# name -> path, all served by the same WSGI application
PATHS = {
    "bare Django view": "/bench/bare",
    "bare DRF view": "/bench/bare-drf",
    "ingest (DixaRelayView)": "/api/dixa/relay",
}


def setup():
    """Django, and its WSGI application."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def environ(path: str, delivery) -> dict:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(delivery.body),
        "CONTENT_LENGTH": str(len(delivery.body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_CONNECTION": "close",
    }
    for name, value in delivery.headers.items():
        meta = name.upper().replace("-", "_")
        env[meta if meta == "CONTENT_TYPE" else f"HTTP_{meta}"] = value
    return env


def environs(path: str, key: str, secret: str, count: int) -> list[dict]:
    """`count` distinct, freshly signed ConversationClosed deliveries for `path`."""
    from integrations.dixa import samples, simulator

    return [
        environ(
            path,
            simulator.build_delivery(samples.event("ConversationClosed"), key=key, secret=secret),
        )
        for _ in range(count)
    ]


def call_all(app, envs: list[dict]) -> set[str]:
    """Call the application once per environ, as a WSGI server would; the statuses seen."""
    statuses = set()

    def start_response(status, headers, exc_info=None):
        statuses.add(status[:3])

    for env in envs:
        result = app(env, start_response)
        b"".join(result)
        result.close()
    return statuses


def block(app, path: str, key: str, secret: str) -> float:
    """CPU µs per request over PER_BLOCK requests."""
    envs = environs(path, key, secret, PER_BLOCK)
    began = time.process_time()
    statuses = call_all(app, envs)
    spent = time.process_time() - began
    if statuses != {"202"}:
        raise RuntimeError(f"{path} answered {statuses}")
    return spent / PER_BLOCK * 1e6


def main(key: str, secret: str) -> dict:
    app = setup()
    for path in PATHS.values():  # warm up: imports, connection, prepared statement
        block(app, path, key, secret)
    samples_us = {name: [] for name in PATHS}
    for _ in range(BLOCKS):  # interleaved, so that drifts in the machine hit all alike
        for name, path in PATHS.items():
            samples_us[name].append(block(app, path, key, secret))
    return {
        name: {"min": min(values), "median": statistics.median(values), "blocks": values}
        for name, values in samples_us.items()
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
