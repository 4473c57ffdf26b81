"""X-DIXA-SIGNATURE: `t=<epoch ms>,v1=<hex>`, HMAC-SHA256 over `t + "." + raw body`,
keyed with the hex-decoded subscription secret."""

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum


class SignatureProblem(Enum):
    MISSING = "X-DIXA-SIGNATURE header is missing"
    MALFORMED = "X-DIXA-SIGNATURE is not of the form t=<timestamp>,v1=<hex>"
    STALE = "X-DIXA-SIGNATURE timestamp is outside the allowed tolerance"
    MISMATCH = "X-DIXA-SIGNATURE does not match any active signing secret"


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: str
    signatures: tuple[str, ...]

    @property
    def epoch_seconds(self) -> float:
        value = int(self.timestamp)
        # Dixa sends milliseconds (13 digits); accept plain seconds too.
        return value / 1000 if value > 10**11 else float(value)


def compute(secret_hex: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(bytes.fromhex(secret_hex), message, hashlib.sha256).hexdigest()


def header_value(secret_hex: str, timestamp_ms: int, body: bytes) -> str:
    return f"t={timestamp_ms},v1={compute(secret_hex, str(timestamp_ms), body)}"


def parse(header: str) -> ParsedSignature | None:
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value.strip()
        elif key == "v1":
            signatures.append(value.strip().lower())
    if not timestamp or not timestamp.isdigit() or not signatures:
        return None
    return ParsedSignature(timestamp=timestamp, signatures=tuple(signatures))


def verify(
    *, header: str | None, body: bytes, secrets: list[str], now: float, tolerance: int
) -> SignatureProblem | None:
    """None when the header verifies with one of `secrets`, else what is wrong with it."""
    if not header:
        return SignatureProblem.MISSING
    parsed = parse(header)
    if parsed is None:
        return SignatureProblem.MALFORMED
    if abs(now - parsed.epoch_seconds) > tolerance:
        return SignatureProblem.STALE
    matched = False
    for secret in secrets:
        expected = compute(secret, parsed.timestamp, body)
        for candidate in parsed.signatures:
            # Evaluate every pair so timing does not reveal which secret or position matched.
            matched |= hmac.compare_digest(expected, candidate)
    return None if matched else SignatureProblem.MISMATCH
