"""The Feedback App's token, from nps.today's `POST /employees/token` with the account's
nps.today key (which thus never goes into Dixa). Cached per account and employee (or "no
employee") in Django's cache until shortly before it expires; when nps.today is down, slow
or refuses the key, the card says so at once for a short while instead of waiting again."""

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from integrations.clients import npstoday
from integrations.clients.http import NO_ANSWER, no_answer
from integrations.models import Account
from integrations.ratelimit import wait_for_slot

logger = logging.getLogger(__name__)

# nps.today's tokens last 24 hours; one whose answer names no expiry is kept this long.
TOKEN_LIFETIME_SECONDS = 24 * 3600
# A token leaves the cache this long before it expires: a card opened just before then
# still has an hour to run.
TOKEN_MARGIN_SECONDS = 3600
# After a failure, cards of the account say "unavailable" this long without asking again.
FAILURE_PAUSE_SECONDS = 30
RATE_LIMIT_MAX_WAIT = 0.5
# At most this many requests of a web process wait for nps.today at once: when it hangs, the
# process' other threads still answer cards (from the cache, or "unavailable") at once.
WAITING_PER_PROCESS = 8
_waiting = threading.BoundedSemaphore(WAITING_PER_PROCESS)


@dataclass(frozen=True)
class CardToken:
    token: str = ""
    problem: str = ""  # why there is no token, in words the card can show
    cached: bool = False

    @property
    def available(self) -> bool:
        return bool(self.token)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@sensitive_variables("npstoday_key")
def _keys(account: Account, npstoday_key: str, employee_email: str) -> tuple[str, str]:
    # The nps.today key is part of the key: a new key in the account asks for new tokens.
    account_part = f"{account.pk}:{_digest(npstoday_key)[:16]}"
    return (
        f"card:token:{account_part}:{_digest(employee_email)}",
        f"card:unavailable:{account_part}",
    )


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001  (a cache that does not answer is a miss, never an error)
        logger.warning("card token cache unavailable; asking nps.today")
        return None


def _cache_set(key: str, value, timeout: float) -> None:
    try:
        cache.set(key, value, timeout=max(1, int(timeout)))
    except Exception:  # noqa: BLE001
        logger.warning("card token cache unavailable; token not kept")


@sensitive_variables("npstoday_key")
def card_token_get(*, account: Account, employee_email: str, body: dict) -> CardToken:
    """The token for `employee_email` ("" for the personal page off). `body` is what goes
    to nps.today on a miss (the card's body, as nps.today expects it)."""
    npstoday_key = account.npstoday_api_key
    if not npstoday_key:
        return CardToken(problem="the account has no nps.today API key")
    token_key, pause_key = _keys(account, npstoday_key, employee_email)
    token = _cache_get(token_key)
    if token:
        return CardToken(token=token, cached=True)
    paused = _cache_get(pause_key)
    if paused:
        return CardToken(problem=paused)
    if not _waiting.acquire(blocking=False):
        return CardToken(problem="nps.today is slow to answer")
    try:
        token, problem = _request(npstoday_key, body)
    finally:
        _waiting.release()
    if problem:
        _cache_set(pause_key, problem, FAILURE_PAUSE_SECONDS)
        logger.warning("card token for account %s: %s", account.pk, problem)
        return CardToken(problem=problem)
    keep = _lifetime(token) - TOKEN_MARGIN_SECONDS
    if keep > 0:
        _cache_set(token_key, token, keep)
    return CardToken(token=token)


@sensitive_variables("npstoday_key")
def _request(npstoday_key: str, body: dict) -> tuple[str, str]:
    """(token, "") or ("", why not)."""
    wait_for_slot(
        "npstoday", npstoday_key, limit=settings.NPSTODAY_RATE_LIMIT, max_wait=RATE_LIMIT_MAX_WAIT
    )
    try:
        response = npstoday.employees_token(
            api_key=npstoday_key, body=body, timeout=settings.CARD_NPSTODAY_TIMEOUT_SECONDS
        )
    except NO_ANSWER as exc:
        return "", no_answer("nps.today", exc, npstoday.employees_token_url())
    if response.status_code in (401, 403):
        return "", f"nps.today refused the account's API key ({response.status_code})"
    if response.status_code != 200:
        return "", f"nps.today answered {response.status_code}"
    try:
        token = response.json().get("token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token.strip() or len(token) > 8192:
        return "", "nps.today answered without a token"
    return token.strip(), ""


def _lifetime(token: str) -> float:
    """Seconds until the token expires: its `exp` when it is a JWT that names one, else
    nps.today's documented 24 hours (never more)."""
    now = time.time()
    parts = token.split(".")
    if len(parts) == 3:
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            exp = json.loads(base64.urlsafe_b64decode(padded)).get("exp")
        except (ValueError, binascii.Error, AttributeError):
            exp = None
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return min(exp - now, TOKEN_LIFETIME_SECONDS)
    return TOKEN_LIFETIME_SECONDS
