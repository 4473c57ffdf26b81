"""One pooled httpx client per process (Celery and gunicorn fork: a client is never shared
across a fork), and the sentence for an API that did not answer."""

import errno
import os
import re
import socket
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_client: httpx.Client | None = None
_pid: int | None = None


def client() -> httpx.Client:
    global _client, _pid
    if _client is None or _pid != os.getpid():
        _client = httpx.Client(
            timeout=TIMEOUT,
            headers={"User-Agent": "dixa-survey-relay/1"},
            cookies=_no_cookies(),
        )
        _pid = os.getpid()
    return _client


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: the one client serves every account, and a cookie one
    account's call was given (a session, a load balancer's) must never go with another's."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class ApiUnavailable(Exception):
    """The API could not be reached or answered with an error; the message says which, and
    `status` the HTTP status of an error answer (None: no answer)."""

    status: int | None = None


# --- No answer, in words ----------------------------------------------------------------------
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")


def origin(url: str | httpx.URL) -> str:
    """`https://host[:port]` of `url`: never its user, password, path or query, which may
    hold a key or a secret. An address without a scheme gives its host part alone."""
    try:
        parsed = httpx.URL(str(url))
        scheme, host, port = parsed.scheme, parsed.host, parsed.port
    except (httpx.InvalidURL, TypeError, ValueError):
        scheme, host, port = "", "", None
    if scheme and host:
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    # "api.dixa.io/v1?key=…" (no http://): the host after any user and password (which may
    # hold a "/"), up to the path, and only if it reads as a host; else nothing.
    text = str(url).split("://", 1)[-1]
    for stop in "?#":
        text = text.split(stop, 1)[0]
    text = text.rsplit("@", 1)[-1].split("/", 1)[0][:100]
    return text if _HOST.match(text) else ""


_CAUSES = (  # (exception type, errno or None, reason), first match wins
    (ssl.SSLCertVerificationError, None, "TLS handshake failed (certificate not accepted)"),
    (ssl.SSLError, None, "TLS handshake failed"),
    (socket.gaierror, socket.EAI_AGAIN, "the host name could not be resolved (no DNS answer)"),
    (socket.gaierror, None, "the host name could not be resolved"),
    (ConnectionRefusedError, None, "the connection was refused"),
    (ConnectionResetError, None, "the connection was reset"),
    (OSError, errno.ENETUNREACH, "the network is unreachable"),
    (OSError, errno.EHOSTUNREACH, "the host is unreachable"),
)
_TEXTS = (  # the same, from the error's text (other backends, stubs), lower case
    ("certificate verify failed", "TLS handshake failed (certificate not accepted)"),
    ("[ssl", "TLS handshake failed"),
    ("_ssl.c", "TLS handshake failed"),
    ("temporary failure in name resolution", "the host name could not be resolved (no DNS answer)"),
    ("name or service not known", "the host name could not be resolved"),
    ("nodename nor servname", "the host name could not be resolved"),
    ("getaddrinfo failed", "the host name could not be resolved"),
    ("connection refused", "the connection was refused"),
    ("reset by peer", "the connection was reset"),
    ("network is unreachable", "the network is unreachable"),
    ("no route to host", "the host is unreachable"),
)
_TIMEOUTS = (  # (exception type, phase of httpx's timeout, reason with its seconds)
    (httpx.ConnectTimeout, "connect", "no connection within {} s"),
    (httpx.ReadTimeout, "read", "no answer within {} s"),
    (httpx.WriteTimeout, "write", "the request could not be sent within {} s"),
    (httpx.PoolTimeout, "pool", "no free connection within {} s"),
)
_KINDS = (  # what is left, by httpx's class
    (httpx.TimeoutException, "no answer in time"),
    (httpx.UnsupportedProtocol, "the address does not start with http:// or https://"),
    (httpx.ProxyError, "the proxy did not let the request through"),
    (httpx.ConnectError, "the connection failed"),
    (httpx.RemoteProtocolError, "the connection closed without a valid answer"),
    (httpx.ReadError, "the connection broke while waiting for the answer"),
    (httpx.WriteError, "the connection broke while sending"),
    (httpx.TooManyRedirects, "too many redirects"),
    (httpx.DecodingError, "the answer could not be decoded"),
    (httpx.InvalidURL, "the address is not a valid URL"),
)
# What a call raises when it got no answer: httpx's errors, and an address httpx cannot use
# (InvalidURL is not one of them: e.g. a port that is not a number).
NO_ANSWER = (httpx.HTTPError, httpx.InvalidURL)


def _request(exc: httpx.HTTPError | httpx.InvalidURL) -> httpx.Request | None:
    try:
        return exc.request
    except (RuntimeError, AttributeError):  # raised outside a client, or before a request
        return None


def reason(exc: httpx.HTTPError) -> str:
    """Why there was no answer, in words: never the exception's text (it may quote the
    address) nor its class name."""
    request = _request(exc)
    limits = (request.extensions.get("timeout") or {}) if request else {}
    for kind, phase, words in _TIMEOUTS:
        if isinstance(exc, kind) and isinstance(limits.get(phase), int | float):
            return words.format(f"{limits[phase]:g}")
    settled = (httpx.TimeoutException, httpx.ProxyError, httpx.UnsupportedProtocol)
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, settled):
        chain, cause = [], exc
        while cause is not None and cause not in chain and len(chain) < 10:
            chain.append(cause)  # httpx's error, from httpcore's, from the socket's
            cause = cause.__cause__
        for cause in chain:
            for kind, number, words in _CAUSES:
                if isinstance(cause, kind) and number in (None, getattr(cause, "errno", None)):
                    return words
        for cause in chain:
            text = str(cause).lower()
            for needle, words in _TEXTS:
                if needle in text:
                    return words
    return next((words for kind, words in _KINDS if isinstance(exc, kind)), "the request failed")


def no_answer(service: str, exc: httpx.HTTPError, url: str | httpx.URL = "") -> str:
    """The sentence for no answer, e.g. `nps.today (https://api.nps.today) did not answer:
    the connection was refused`. The address is the request's (`url` when the request has
    none, or a relative one), cut to scheme, host and port."""
    request = _request(exc)
    if (request and request.url.scheme and request.url.host) or not url:
        url = request.url if request else ""
    tried = origin(url) if url else ""
    named = f"{service} ({tried})" if tried else service
    return f"{named} did not answer: {reason(exc)}"


def get_json(
    url: str, *, service: str, headers: dict, params: dict | None = None, timeout: float = 5.0
):
    try:
        response = client().get(url, headers=headers, params=params, timeout=timeout)
    except NO_ANSWER as exc:
        raise ApiUnavailable(no_answer(service, exc, url)) from exc
    if response.status_code != 200:
        error = ApiUnavailable(f"{url} answered {response.status_code}: {response.text[:200]}")
        error.status = response.status_code
        raise error
    try:
        return response.json()
    except ValueError as exc:
        raise ApiUnavailable(f"{service} ({origin(url)}) answered without JSON") from exc
