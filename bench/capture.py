"""Section: what P-GAP's capture adds to close → member when the agent's score came by
webhook. Half the accounts have P-GAP on, half off; their closes are interleaved in one
open loop at a rate the machine carries, after each P-GAP close's attribute event was
stored, so the two groups are compared within one run."""

import statistics

import psycopg

from bench import accounts, closes, load, stack
from bench.relay import _wait_for, _warm_up
from bench.report import ms, table, verdict
from integrations.dixa import samples, simulator

ACCOUNTS = 10  # even: half with P-GAP on
RATE, SECONDS = 10, 12
GOAL_MS = 50.0


def run() -> tuple[str, dict]:
    processes = stack.Processes(stack.env())
    try:
        fake, fake_url = processes.fake_npstoday(
            [accounts.npstoday_key(i) for i in range(ACCOUNTS)]
        )
        processes.env = environment = stack.env(NPSTODAY_API_URL=fake_url)
        keys = accounts.prepare(environment, ACCOUNTS)
        _pgap_on(environment, ACCOUNTS // 2)
        running, port = processes.platform()
        _warm_up(keys, port, fake_url)

        requests, csids = closes.requests(keys, RATE * SECONDS, port)
        on = {csid for i, csid in enumerate(csids) if i % ACCOUNTS < ACCOUNTS // 2}
        events = [
            _attribute_event(keys[i % ACCOUNTS], csid, port)
            for i, csid in enumerate(csids)
            if csid in on
        ]
        load.open_loop("127.0.0.1", port, events, 50)
        _wait_captured(len(on))
        result = load.open_loop("127.0.0.1", port, requests, RATE)
        arrived = _wait_for(fake_url, csids, 60)
    finally:
        processes.stop()
    due = {c: result.started_wall + i / RATE for i, c in enumerate(csids)}
    latency = {c: (arrived[c] - due[c]) * 1000 for c in csids if c in arrived}
    raw = {
        "rate": RATE,
        "closes": len(csids),
        "arrived": len(latency),
        "p50_on_ms": statistics.median(v for c, v in latency.items() if c in on),
        "p50_off_ms": statistics.median(v for c, v in latency.items() if c not in on),
    }
    raw["added_ms"] = raw["p50_on_ms"] - raw["p50_off_ms"]
    raw["summary"] = [
        [
            "P-GAP capture: added to close → member p50 (score by webhook)",
            f"{ms(raw['added_ms'])} ms",
            f"≤ {GOAL_MS:.0f} ms",
            raw["added_ms"] <= GOAL_MS,
        ]
    ]
    return render(raw), raw


def _pgap_on(environment: dict, count: int) -> None:
    """P-GAP on for the first `count` accounts (their mapping), by apply_config."""
    lines = ["accounts:"]
    for i in range(count):
        lines += [f"  - name: Bench {i}", "    pgap: {attribute_identifier: p_gap}"]
    path = stack.OUT / "bench-pgap.yaml"
    path.write_text("\n".join(lines) + "\n")
    stack.manage("apply_config", str(path), environment=environment)


def _attribute_event(key: str, csid: int, port: int) -> bytes:
    """The agent's p_gap 7 on conversation `csid`, as Dixa sends it before the close."""
    body = samples.event("ConversationCustomAttributeUpdated")
    body["data"]["conversation"]["csid"] = csid
    body["data"]["conversation"]["queue"] = {"id": accounts.MAPPED_QUEUE, "name": "Bench"}
    body["data"]["custom_attributes"] = [{"id": "a-1", "identifier": "p_gap", "value": ["7"]}]
    d = simulator.build_delivery(body, key=key, secret=accounts.SECRET)
    return load.raw_request("127.0.0.1", port, "/api/dixa/relay", d.body, d.headers)


def _wait_captured(count: int, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(stack.PG_URL) as conn:
            done = conn.execute(
                "SELECT count(*) FROM pgap_agentprediction WHERE status = 'captured'"
            ).fetchone()[0]
        if done >= count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"only {done} of {count} scores captured")


def render(raw: dict) -> str:
    rows = [
        ["P-GAP on (score by webhook)", f"{ms(raw['p50_on_ms'])} ms"],
        ["P-GAP off", f"{ms(raw['p50_off_ms'])} ms"],
        ["added by the capture", f"{ms(raw['added_ms'])} ms"],
    ]
    return "\n".join(
        [
            "## P-GAP capture on close → member",
            "",
            f"{raw['closes']} closes at {raw['rate']}/s in one open loop, accounts with P-GAP "
            "on and off interleaved; each P-GAP close's `ConversationCustomAttributeUpdated` "
            f"was stored first. {raw['arrived']} members arrived. Goal: the capture adds "
            f"≤ {GOAL_MS:.0f} ms at the p50: {verdict(raw['added_ms'] <= GOAL_MS)}.",
            "",
            *table(["close → member p50", ""], rows),
            "",
        ]
    )
