from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from core import crypto
from core.config import settings
from core.crypto import (
    DecryptionError,
    constant_time_equals,
    decrypt_secret,
    derive_key,
    encrypt_secret,
    hash_token,
    new_token,
)

OTHER_SECRET = "another-secret-key-of-sufficient-length-0123456789"


class TestDeriveKey:
    def test_is_32_bytes_and_deterministic(self):
        assert len(derive_key("totp", secret="s" * 40)) == 32
        assert derive_key("totp", secret="s" * 40) == derive_key("totp", secret="s" * 40)

    def test_differs_by_purpose_and_secret(self):
        keys = {
            derive_key("totp", secret="a" * 40),
            derive_key("smtp-password", secret="a" * 40),
            derive_key("totp", secret="b" * 40),
        }
        assert len(keys) == 3

    def test_defaults_to_configured_secret(self):
        assert derive_key("totp") == derive_key(
            "totp", secret=settings.secret_key.get_secret_value()
        )

    def test_empty_purpose_is_refused(self):
        with pytest.raises(ValueError, match="purpose"):
            derive_key("")


class TestEncryptSecret:
    def test_round_trip(self):
        token = encrypt_secret("JBSWY3DPEHPK3PXP-ünïcode", purpose="totp")
        assert decrypt_secret(token, purpose="totp") == "JBSWY3DPEHPK3PXP-ünïcode"

    def test_ciphertext_hides_plaintext_and_is_randomized(self):
        first = encrypt_secret("hunter2", purpose="smtp-password")
        second = encrypt_secret("hunter2", purpose="smtp-password")
        assert "hunter2" not in first
        assert first != second

    def test_other_purpose_cannot_decrypt(self):
        token = encrypt_secret("seed", purpose="totp")
        with pytest.raises(DecryptionError):
            decrypt_secret(token, purpose="webhook-secret")

    def test_tampered_ciphertext_fails(self):
        token = encrypt_secret("seed", purpose="totp")
        # Flip a character in the middle (the ciphertext), keeping valid base64.
        middle = len(token) // 2
        flipped = "A" if token[middle] != "A" else "B"
        tampered = token[:middle] + flipped + token[middle + 1 :]
        with pytest.raises(DecryptionError):
            decrypt_secret(tampered, purpose="totp")

    def test_other_secret_key_fails(self, monkeypatch: pytest.MonkeyPatch):
        token = encrypt_secret("seed", purpose="totp")
        monkeypatch.setattr(settings, "secret_key", SecretStr(OTHER_SECRET))
        with pytest.raises(DecryptionError):
            decrypt_secret(token, purpose="totp")

    @pytest.mark.parametrize("garbage", ["", "not-a-token", "é-not-ascii"])
    def test_garbage_fails_as_decryption_error(self, garbage: str):
        with pytest.raises(DecryptionError):
            decrypt_secret(garbage, purpose="totp")

    def test_malformed_purpose_is_refused(self):
        with pytest.raises(ValueError, match="purpose"):
            encrypt_secret("seed", purpose="Token Hash")

    def test_old_key_still_decrypts_after_rotation(self, monkeypatch: pytest.MonkeyPatch):
        old = settings.secret_key.get_secret_value()
        token = encrypt_secret("seed", purpose="totp")
        monkeypatch.setattr(settings, "secret_key", SecretStr(OTHER_SECRET))
        monkeypatch.setattr(crypto, "_secret_keys", lambda: [OTHER_SECRET, old])
        assert decrypt_secret(token, purpose="totp") == "seed"
        # New data is sealed with the current key only.
        fresh = encrypt_secret("seed", purpose="totp")
        monkeypatch.setattr(crypto, "_secret_keys", lambda: [old])
        with pytest.raises(DecryptionError):
            decrypt_secret(fresh, purpose="totp")


class TestHashToken:
    def test_deterministic_hex_sha256(self):
        digest = hash_token("refresh-token-value")
        assert digest == hash_token("refresh-token-value")
        assert re.fullmatch(r"[0-9a-f]{64}", digest)

    def test_differs_by_token(self):
        assert hash_token("a") != hash_token("b")

    def test_differs_by_secret_key(self, monkeypatch: pytest.MonkeyPatch):
        before = hash_token("refresh-token-value")
        monkeypatch.setattr(settings, "secret_key", SecretStr(OTHER_SECRET))
        assert hash_token("refresh-token-value") != before

    def test_is_not_a_bare_sha256(self):
        import hashlib

        assert hash_token("abc") != hashlib.sha256(b"abc").hexdigest()


class TestNewToken:
    def test_default_is_256_bits_url_safe(self):
        token = new_token()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)

    def test_16_bytes_gives_at_least_22_chars(self):
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", new_token(16))

    def test_tokens_are_unique(self):
        assert len({new_token(16) for _ in range(1000)}) == 1000

    def test_fewer_than_16_bytes_is_refused(self):
        with pytest.raises(ValueError, match="16"):
            new_token(15)


class TestConstantTimeEquals:
    def test_equal(self):
        assert constant_time_equals("abc", "abc")

    def test_unequal_and_different_length(self):
        assert not constant_time_equals("abc", "abd")
        assert not constant_time_equals("abc", "abcd")

    def test_non_ascii_does_not_raise(self):
        assert constant_time_equals("ünï", "ünï")
        assert not constant_time_equals("ünï", "uni")
