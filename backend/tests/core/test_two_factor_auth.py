from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from core.crypto import hash_token
from core.two_factor_auth import (
    RECOVERY_CODE_ALPHABET,
    hash_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    normalize_recovery_code,
    provisioning_uri,
    qr_code_data_uri,
    verify_totp,
)

# RFC 6238 appendix B: the SHA1 seed "12345678901234567890" in base32.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
# The appendix's 8-digit values truncated to 6 digits (HOTP truncation is value mod 10^d).
RFC_VECTORS = [
    (59, "287082"),
    (1111111109, "081804"),
    (1111111111, "050471"),
    (1234567890, "005924"),
    (2000000000, "279037"),
    (20000000000, "353130"),
]
NOW = datetime(2024, 5, 1, 12, 0, 15, tzinfo=UTC)
NOW_STEP = int(NOW.timestamp()) // 30
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


@pytest.fixture
def secret() -> str:
    return new_totp_secret()


class TestNewTotpSecret:
    def test_is_160_bit_base32(self, secret: str):
        assert len(base64.b32decode(secret)) == 20

    def test_is_random(self):
        assert new_totp_secret() != new_totp_secret()


class TestVerifyTotp:
    @pytest.mark.parametrize(("ts", "code"), RFC_VECTORS)
    def test_rfc_6238_vectors(self, ts: int, code: str):
        assert verify_totp(RFC_SECRET, code, last_used_step=None, at=utc(ts)) == ts // 30

    def test_current_code_returns_current_step(self, secret: str):
        assert verify_totp(secret, code_at(secret, NOW), last_used_step=None, at=NOW) == NOW_STEP

    @pytest.mark.parametrize("offset", [-1, 1])
    def test_one_step_either_side_is_accepted(self, secret: str, offset: int):
        code = code_at(secret, NOW + timedelta(seconds=30 * offset))
        assert verify_totp(secret, code, last_used_step=None, at=NOW) == NOW_STEP + offset

    @pytest.mark.parametrize("offset", [-2, 2])
    def test_two_steps_away_is_refused(self, secret: str, offset: int):
        code = code_at(secret, NOW + timedelta(seconds=30 * offset))
        # Guard against a chance collision with an in-window code making the test flaky.
        in_window = {code_at(secret, NOW + timedelta(seconds=30 * o)) for o in (-1, 0, 1)}
        if code in in_window:
            pytest.skip("random secret produced a colliding code")
        assert verify_totp(secret, code, last_used_step=None, at=NOW) is None

    def test_wrong_code_is_refused(self):
        # 287082 is the code at t=59 only; at NOW it is not within the window.
        assert verify_totp(RFC_SECRET, "287082", last_used_step=None, at=utc(1111111109)) is None

    def test_replay_of_same_step_is_refused(self, secret: str):
        code = code_at(secret, NOW)
        step = verify_totp(secret, code, last_used_step=None, at=NOW)
        assert step == NOW_STEP
        assert verify_totp(secret, code, last_used_step=step, at=NOW) is None

    def test_older_code_after_newer_is_refused(self, secret: str):
        newer = code_at(secret, NOW + timedelta(seconds=30))
        older = code_at(secret, NOW)
        step = verify_totp(secret, newer, last_used_step=None, at=NOW)
        assert step == NOW_STEP + 1
        assert verify_totp(secret, older, last_used_step=step, at=NOW) is None

    def test_next_code_after_used_one_is_accepted(self, secret: str):
        later = NOW + timedelta(seconds=30)
        code = code_at(secret, later)
        assert verify_totp(secret, code, last_used_step=NOW_STEP, at=later) == NOW_STEP + 1

    @pytest.mark.parametrize("code", ["12345", "abcdef", "1234567", "", "12 34 5", "١٢٣٤٥٦"])
    def test_malformed_codes_are_refused(self, secret: str, code: str):
        assert verify_totp(secret, code, last_used_step=None, at=NOW) is None

    def test_spaces_are_ignored(self):
        at = utc(1111111109)
        assert verify_totp(RFC_SECRET, " 081 804 ", last_used_step=None, at=at) == 1111111109 // 30

    def test_defaults_to_now(self, secret: str):
        code = pyotp.TOTP(secret).now()
        assert verify_totp(secret, code, last_used_step=None) is not None

    def test_naive_datetime_is_refused(self, secret: str):
        with pytest.raises(ValueError, match="timezone-aware"):
            verify_totp(secret, "123456", last_used_step=None, at=datetime(2024, 5, 1))


class TestProvisioningUri:
    def test_contains_issuer_account_and_secret(self, secret: str):
        uri = provisioning_uri(secret, "alice@example.com", "Vigil Acme & Co")
        parts = urlsplit(uri)
        assert parts.scheme == "otpauth"
        assert parts.netloc == "totp"
        assert parts.path == "/Vigil%20Acme%20%26%20Co:alice%40example.com"
        query = parse_qs(parts.query)
        assert query["secret"] == [secret]
        assert query["issuer"] == ["Vigil Acme & Co"]

    def test_round_trips_through_pyotp(self, secret: str):
        parsed = pyotp.parse_uri(provisioning_uri(secret, "bob@example.com", "Vigil"))
        assert isinstance(parsed, pyotp.TOTP)
        assert parsed.secret == secret
        assert parsed.digits == 6
        assert parsed.interval == 30


class TestQrCodeDataUri:
    def test_is_a_png_data_uri(self, secret: str):
        data_uri = qr_code_data_uri(provisioning_uri(secret, "alice@example.com", "Vigil"))
        prefix = "data:image/png;base64,"
        assert data_uri.startswith(prefix)
        png = base64.b64decode(data_uri.removeprefix(prefix), validate=True)
        assert png[:8] == PNG_SIGNATURE

    def test_is_large_enough_to_scan(self, secret: str):
        data_uri = qr_code_data_uri(provisioning_uri(secret, "alice@example.com", "Vigil"))
        png = base64.b64decode(data_uri.split(",", 1)[1])
        # IHDR width/height sit at bytes 16-24; a version-4+ code at scale 5 with its
        # quiet zone is well over 150 px.
        width = int.from_bytes(png[16:20], "big")
        height = int.from_bytes(png[20:24], "big")
        assert width == height
        assert width >= 150


class TestRecoveryCodes:
    def test_ten_distinct_codes_by_default(self):
        codes = new_recovery_codes()
        assert len(codes) == 10
        assert len(set(codes)) == 10

    def test_count_is_configurable(self):
        assert len(new_recovery_codes(3)) == 3

    def test_format_and_alphabet(self):
        pattern = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}")
        for code in new_recovery_codes(50):
            assert pattern.fullmatch(code)
            assert set(code.replace("-", "")) <= set(RECOVERY_CODE_ALPHABET)

    def test_alphabet_has_no_ambiguous_characters(self):
        assert not set("0O1IL") & set(RECOVERY_CODE_ALPHABET)

    def test_at_least_50_bits(self):
        import math

        length = len(new_recovery_codes(1)[0].replace("-", ""))
        assert length * math.log2(len(set(RECOVERY_CODE_ALPHABET))) >= 50

    def test_normalization_ignores_case_spaces_and_dashes(self):
        assert normalize_recovery_code("abcde-fghjk") == normalize_recovery_code("ABCDEFGHJK")
        assert normalize_recovery_code(" abcd efgh-jkmn\n") == "ABCDEFGHJKMN"

    def test_normalized_code_is_idempotent(self):
        code = new_recovery_codes(1)[0]
        assert normalize_recovery_code(normalize_recovery_code(code)) == normalize_recovery_code(
            code
        )

    def test_hash_matches_however_the_code_is_typed(self):
        code = new_recovery_codes(1)[0]
        typed = code.lower().replace("-", " ")
        assert hash_recovery_code(typed) == hash_recovery_code(code)
        assert hash_recovery_code(code) == hash_token(normalize_recovery_code(code))
