"""CPU per request inside one process: the WSGI application is called directly, so the
figure leaves out gunicorn, the load generator and PostgreSQL's own CPU, and with them
most of a shared machine's noise. `bench.ingest` runs it in a subprocess against the
benchmark's database:

    python -m bench.inprocess KEY SECRET     # prints JSON
"""

import io
import json
import os
import statistics
import sys
import time

BLOCKS = 16
PER_BLOCK = 300


def main(key: str, secret: str) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    from integrations.api.fast_path import RelayFastPath
    from integrations.dixa import samples, simulator

    django_app = WSGIHandler()
    variants = {
        "bare view": (django_app, "/bench/bare"),
        "ingest, Django's handler and middleware": (django_app, "/api/dixa/relay"),
        "ingest, fast path (as served)": (RelayFastPath(django_app), "/api/dixa/relay"),
    }

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

    def block(app, path: str) -> float:
        envs = [
            environ(
                path,
                simulator.build_delivery(
                    samples.event("ConversationClosed"), key=key, secret=secret
                ),
            )
            for _ in range(PER_BLOCK)
        ]
        statuses = set()

        def start_response(status, headers, exc_info=None):
            statuses.add(status[:3])

        began = time.process_time()
        for env in envs:
            result = app(env, start_response)
            b"".join(result)
            result.close()
        spent = time.process_time() - began
        if statuses != {"202"}:
            raise RuntimeError(f"{path} answered {statuses}")
        return spent / PER_BLOCK * 1e6

    for app, path in variants.values():  # warm up: imports, connection, prepared statement
        block(app, path)
    samples_us = {name: [] for name in variants}
    for _ in range(BLOCKS):  # interleaved, so that drifts in the machine hit all alike
        for name, (app, path) in variants.items():
            samples_us[name].append(block(app, path))
    return {
        name: {"min": min(values), "median": statistics.median(values)}
        for name, values in samples_us.items()
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
