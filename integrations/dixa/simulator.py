"""Send deliveries exactly as Dixa does: signed, with the subscription id, at a given rate."""

import base64
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from integrations.dixa import samples, signature
from integrations.dixa.catalogue import EVENT_TYPES


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    event_id: str
    event_type: str
    bad_signature: bool = False


@dataclass
class SimulationReport:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


def auth_header(key: str, scheme: str = "token") -> str:
    if scheme == "basic":
        return "Basic " + base64.b64encode(f"ApiKey:{key}".encode()).decode()
    return f"Bearer {key}"


def build_delivery(
    body: dict,
    *,
    key: str,
    secret: str | None = None,
    bad_signature: bool = False,
    subscription_id: str = "beabb3e2-3a10-4a44-9a88-9359887a139f",
    auth: str = "token",
    timestamp_ms: int | None = None,
) -> Delivery:
    raw = samples.encode(body)
    headers = {
        "Content-Type": "application/json",
        "Authorization": auth_header(key, auth),
        "X-DIXA-SUBSCRIPTION-ID": subscription_id,
    }
    if secret:
        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        value = signature.header_value(secret, stamp, raw)
        if bad_signature:
            value = value[:-4] + ("0000" if not value.endswith("0000") else "ffff")
        headers["X-DIXA-SIGNATURE"] = value
    event_id = body.get("event_id") or body.get("eventId")
    fqn = body.get("event_fqn") or body.get("eventFqn")
    return Delivery(
        body=raw, headers=headers, event_id=event_id, event_type=fqn, bad_signature=bad_signature
    )


def plan(
    *,
    events: int,
    key: str,
    secret: str | None,
    casing: str,
    duplicates: bool,
    bad_signatures: bool,
    types: tuple[str, ...] = EVENT_TYPES,
    seed: int | None = None,
) -> list[Delivery]:
    """The deliveries to send, in order: every catalogue type in turn, then repeats.
    With `duplicates`, every fifth event is sent again (as Dixa occasionally does);
    with `bad_signatures`, every seventh is signed wrongly."""
    rng = random.Random(seed)  # noqa: S311
    deliveries: list[Delivery] = []
    for index in range(events):
        event_type = types[index % len(types)]
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        body = samples.event(event_type, casing=casing, rng=rng, event_id=event_id)
        bad = bad_signatures and index % 7 == 6
        delivery = build_delivery(body, key=key, secret=secret, bad_signature=bad)
        deliveries.append(delivery)
        if duplicates and index % 5 == 4:
            deliveries.append(delivery)
    return deliveries


def send(
    url: str, deliveries: list[Delivery], *, rate: float, timeout: float = 10
) -> SimulationReport:
    report = SimulationReport()
    interval = 1.0 / rate if rate > 0 else 0.0
    start = time.monotonic()
    with httpx.Client(timeout=timeout) as client:
        for index, delivery in enumerate(deliveries):
            if interval:
                delay = start + index * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            began = time.perf_counter()
            try:
                response = client.post(url, content=delivery.body, headers=delivery.headers)
                report.statuses[response.status_code] += 1
            except httpx.HTTPError as exc:
                report.errors[type(exc).__name__] += 1
            report.latencies_ms.append((time.perf_counter() - began) * 1000)
            report.sent += 1
    return report
