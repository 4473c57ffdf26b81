"""The benchmark's tenants, made with `manage.py apply_config` as an operator would."""

from bench import stack
from integrations.dixa import samples

SECRET = "7e1a7e" * 8  # every account's Dixa signing secret (hex)
MAPPED_QUEUE = samples.QUEUES[0][0]  # the queue every account maps to campaign 7232
UNMAPPED_QUEUE = "bench-unmapped-queue"


def npstoday_key(index: int) -> str:
    return f"nps-bench-{index}"


def create(environment: dict, count: int, *, retry_seconds: int = 60) -> list[str]:
    """`count` accounts, each with its own nps.today key, a relay API key, a signing secret
    and one IVR mapping (MAPPED_QUEUE → campaign 7232, no delay, no quarantine). Returns the
    relay API keys, in account order."""
    lines = ["accounts:"]
    for i in range(count):
        lines += [
            f"  - name: Bench {i}",
            f"    npstoday_api_key: {npstoday_key(i)}",
            f"    npstoday_retry_seconds: {retry_seconds}",
            "    api_keys: [{name: bench}]",
            f"    signing_secrets: [{{label: bench, secret: '{SECRET}'}}]",
            "    ivr_mappings:",
            f"      - {{name: Bench {i}, campaign_id: 7232, queue_id: '{MAPPED_QUEUE}', "
            "once_per_conversation: false}",
        ]
    path = stack.OUT / "bench-config.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    out = stack.manage("apply_config", str(path), environment=environment)
    keys = [line.rsplit(" ", 1)[-1] for line in out.splitlines() if "shown once" in line]
    if len(keys) != count:
        raise RuntimeError(f"apply_config issued {len(keys)} keys for {count} accounts:\n{out}")
    return keys


def prepare(environment: dict, count: int, **options) -> list[str]:
    """A fresh database, migrated, with `count` accounts; their relay API keys."""
    stack.fresh_database()
    stack.manage("migrate", "--noinput", environment=environment)
    return create(environment, count, **options)
