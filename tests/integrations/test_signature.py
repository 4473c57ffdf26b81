import hashlib
import hmac

import pytest

from integrations.dixa import signature
from integrations.dixa.signature import SignatureProblem

# Computed outside our code: printf '%s' "$t.$body" | openssl dgst -sha256 -mac HMAC
#   -macopt hexkey:4a6f686e446f65536563726574
VECTOR_SECRET = "4a6f686e446f65536563726574"
VECTOR_T = "1689238949803"
VECTOR_BODY = b'{"event_id":"0be2bd61","event_fqn":"CONVERSATION_CLOSED"}'
VECTOR_V1 = "bf5d01df66d27ccaf3f14099151fe788154c8abffdd54d042b19050278190912"
NOW = 1689238949.803


def verify(header, body=VECTOR_BODY, secrets=(VECTOR_SECRET,), now=NOW, tolerance=300):
    return signature.verify(
        header=header, body=body, secrets=list(secrets), now=now, tolerance=tolerance
    )


def test_openssl_vector_verifies():
    assert signature.compute(VECTOR_SECRET, VECTOR_T, VECTOR_BODY) == VECTOR_V1
    assert verify(f"t={VECTOR_T},v1={VECTOR_V1}") is None


def test_signature_matches_an_independent_hmac_over_t_dot_raw_body():
    # given a body with whitespace that re-serialising would lose
    body = b'{ "event_id" : "a",\n "event_fqn": "CONVERSATION_OPEN" }'
    secret = "00ff" * 16
    expected = hmac.new(bytes.fromhex(secret), b"1700000000000." + body, hashlib.sha256).hexdigest()
    # then
    assert signature.header_value(secret, 1700000000000, body) == f"t=1700000000000,v1={expected}"
    assert (
        verify(f"t=1700000000000,v1={expected}", body=body, secrets=[secret], now=1700000000)
        is None
    )


def test_uppercase_hex_and_spaces_are_accepted():
    assert verify(f"t={VECTOR_T}, v1={VECTOR_V1.upper()}") is None


@pytest.mark.parametrize(
    "header, problem",
    [
        (None, SignatureProblem.MISSING),
        ("", SignatureProblem.MISSING),
        ("v1=abc", SignatureProblem.MALFORMED),
        (f"t={VECTOR_T}", SignatureProblem.MALFORMED),
        (f"t=yesterday,v1={VECTOR_V1}", SignatureProblem.MALFORMED),
        (f"t={VECTOR_T},v1={'0' * 64}", SignatureProblem.MISMATCH),
        (f"t={int(VECTOR_T) + 1},v1={VECTOR_V1}", SignatureProblem.MISMATCH),
    ],
)
def test_bad_headers_are_named(header, problem):
    assert verify(header) is problem


def test_tampered_body_does_not_verify():
    assert (
        verify(f"t={VECTOR_T},v1={VECTOR_V1}", body=VECTOR_BODY + b" ") is SignatureProblem.MISMATCH
    )


@pytest.mark.parametrize(
    "skew, ok",
    [(0, True), (300, True), (-300, True), (300.001, False), (-300.001, False), (3600, False)],
)
def test_tolerance_edges(skew, ok):
    # t is milliseconds; `now` is seconds. Exactly at the tolerance is still accepted.
    result = verify(f"t={VECTOR_T},v1={VECTOR_V1}", now=NOW + skew, tolerance=300)
    assert (result is None) is ok
    if not ok:
        assert result is SignatureProblem.STALE


def test_ten_digit_timestamps_are_read_as_seconds():
    body = b"{}"
    header = signature.header_value(VECTOR_SECRET, 1_700_000_000, body)
    assert verify(header, body=body, now=1_700_000_100) is None


def test_rotation_either_secret_verifies():
    old, new = "aa" * 32, "bb" * 32
    for secret in (old, new):
        header = signature.header_value(secret, int(NOW * 1000), VECTOR_BODY)
        assert verify(header, secrets=[new, old]) is None
    stranger = signature.header_value("cc" * 32, int(NOW * 1000), VECTOR_BODY)
    assert verify(stranger, secrets=[new, old]) is SignatureProblem.MISMATCH


def test_any_of_several_v1_values_may_match():
    assert verify(f"t={VECTOR_T},v1={'1' * 64},v1={VECTOR_V1}") is None


def test_as_many_v1_values_as_the_limit_allows_still_verify():
    # given the most v1 values a header may carry, the matching one last
    others = [f"v1={'1' * 64}"] * (signature.MAX_SIGNATURES - 1)
    header = ",".join([f"t={VECTOR_T}", *others, f"v1={VECTOR_V1}"])
    # then
    assert verify(header) is None


def test_a_header_of_the_longest_length_verifies_and_one_character_more_is_malformed():
    # given a good header padded with spaces (which parsing strips) to the longest length
    padding = " " * (signature.MAX_HEADER_LENGTH - len(f"t={VECTOR_T},v1={VECTOR_V1}"))
    longest = f"t={VECTOR_T},{padding}v1={VECTOR_V1}"
    assert len(longest) == signature.MAX_HEADER_LENGTH
    # then it verifies, and one more space makes it malformed
    assert verify(longest) is None
    assert verify(f"t={VECTOR_T}, {padding}v1={VECTOR_V1}") is SignatureProblem.MALFORMED


def test_schemes_other_than_v1_are_ignored():
    # given a header that also carries a scheme we do not know, with a value that is not hex
    header = f"t={VECTOR_T},v0=not-hex,v1={VECTOR_V1},v2={'2' * 64}"
    # then only t and v1 are read
    assert verify(header) is None
