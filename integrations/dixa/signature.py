"""X-DIXA-SIGNATURE: `t=<epoch ms>,v1=<hex>`, HMAC-SHA256 over `t + "." + raw body`,
keyed with the hex-decoded subscription secret."""

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import Enum

from django.views.decorators.debug import sensitive_variables

# Bounds on what a header may carry. Dixa sends one 13-digit `t` and one or two 64-digit
# `v1` (two while a secret rotates); anything far beyond that is not a Dixa signature.
MAX_HEADER_LENGTH = 1024
MAX_SIGNATURES = 8
_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_HEX = re.compile(r"[0-9a-fA-F]{1,128}")


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


@sensitive_variables("secret_hex")
def compute(secret_hex: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(bytes.fromhex(secret_hex), message, hashlib.sha256).hexdigest()


@sensitive_variables("secret_hex")
def header_value(secret_hex: str, timestamp_ms: int, body: bytes) -> str:
    return f"t={timestamp_ms},v1={compute(secret_hex, str(timestamp_ms), body)}"


def parse(header: str) -> ParsedSignature | None:
    """The header's `t` and `v1` values; None unless `t` is 1 to 16 ASCII digits and every
    `v1` is 1 to 128 hex digits (at most MAX_SIGNATURES), in a header of sane length."""
    if len(header) > MAX_HEADER_LENGTH:
        return None
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value.strip()
        elif key == "v1":
            signatures.append(value.strip())
    if not _valid(timestamp, signatures):
        return None
    return ParsedSignature(timestamp, tuple(candidate.lower() for candidate in signatures))


def _valid(timestamp: str | None, signatures: list[str]) -> bool:
    # fullmatch on explicit ASCII classes: str.isdigit() also admits "١٢" and "²", and
    # hmac.compare_digest() raises TypeError on non-ASCII text.
    return (
        timestamp is not None
        and _TIMESTAMP.fullmatch(timestamp) is not None
        and 0 < len(signatures) <= MAX_SIGNATURES
        and all(_HEX.fullmatch(candidate) for candidate in signatures)
    )


@sensitive_variables("secrets", "secret")
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
