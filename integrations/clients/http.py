"""One pooled httpx client per process (Celery and gunicorn fork: a client is never shared
across a fork)."""

import os

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_client: httpx.Client | None = None
_pid: int | None = None


def client() -> httpx.Client:
    global _client, _pid
    if _client is None or _pid != os.getpid():
        _client = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "dixa-survey-relay/1"})
        _pid = os.getpid()
    return _client


class ApiUnavailable(Exception):
    """The API could not be reached or answered with an error; the message says which, and
    `status` the HTTP status of an error answer (None: no answer)."""

    status: int | None = None


def get_json(url: str, *, headers: dict, params: dict | None = None, timeout: float = 5.0):
    try:
        response = client().get(url, headers=headers, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ApiUnavailable(f"no answer from {url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        error = ApiUnavailable(f"{url} answered {response.status_code}: {response.text[:200]}")
        error.status = response.status_code
        raise error
    try:
        return response.json()
    except ValueError as exc:
        raise ApiUnavailable(f"{url} did not answer JSON") from exc
