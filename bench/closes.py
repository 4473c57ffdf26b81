"""Dixa ConversationClosed deliveries, signed and serialised ahead of sending, and what the
fake nps.today made of them."""

import itertools
import json

import httpx

from bench import accounts, load
from integrations.dixa import samples, simulator

_CSIDS = itertools.count(10_000_000)  # unique within a run: members are matched by csid


def requests(
    keys: list[str], count: int, port: int, *, queue: str = accounts.MAPPED_QUEUE
) -> tuple[list[bytes], list[int]]:
    """`count` closes on `queue`, the accounts' keys taken in turn; requests and csids."""
    out, csids = [], []
    for i in range(count):
        body = samples.event("ConversationClosed")
        body["data"]["conversation"]["queue"] = {"id": queue, "name": "Bench"}
        body["data"]["conversation"]["csid"] = csid = next(_CSIDS)
        csids.append(csid)
        d = simulator.build_delivery(body, key=keys[i % len(keys)], secret=accounts.SECRET)
        out.append(load.raw_request("127.0.0.1", port, "/api/dixa/relay", d.body, d.headers))
    return out, csids


def fake_requests(url: str) -> list[dict]:
    return httpx.get(f"{url}/__fake__/state", timeout=60).json()["requests"]


def arrivals(url: str) -> dict[int, float]:
    """csid -> when the fake nps.today first received its member (time.time())."""
    out: dict[int, float] = {}
    for r in fake_requests(url):
        if r["method"] == "POST" and r["status"] == 200:
            csid = json.loads(json.loads(r["body"])["custom"])["dixaConversationId"]
            out.setdefault(csid, r["at"])
    return out


def per_key_peak(url: str) -> int:
    """The most member requests any one nps.today key made within one second."""
    counts: dict[tuple[str, int], int] = {}
    for r in fake_requests(url):
        if r["method"] == "POST":
            slot = (r["key"], int(r["at"]))
            counts[slot] = counts.get(slot, 0) + 1
    return max(counts.values(), default=0)


def script(url: str, **payload) -> None:
    """Tell the fake how to answer its next requests, e.g. behaviours=[{"hang": 8}] * n."""
    httpx.post(f"{url}/__fake__/script", json=payload, timeout=30).raise_for_status()


def reset(url: str) -> None:
    httpx.post(f"{url}/__fake__/reset", timeout=30).raise_for_status()
