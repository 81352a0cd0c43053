"""Secrets at rest and token hashing, every key derived from `settings.secret_key`.

Each use gets its own HKDF-derived key, so a key that leaks from one place (a log, a
debugger, a compromised worker that only needed SMTP) opens nothing else, and the master
secret itself never meets a cipher.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.config import settings

# Versioned so that a future change of derivation cannot collide with today's keys.
_HKDF_INFO_PREFIX = b"vigil/v1/"
_HMAC_PURPOSE = "token-hash"
# Encryption purposes are namespaced so no caller can ask for the token-hash HMAC key as a
# Fernet key (or the reverse) by picking a clashing purpose name.
_ENCRYPTION_PREFIX = "encrypt:"
_PURPOSE_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_MIN_TOKEN_BYTES = 16  # 128 bits: beyond online and offline guessing


class DecryptionError(Exception):
    """The ciphertext was tampered with, or was sealed under another key or purpose."""


def derive_key(purpose: str, *, secret: str | None = None) -> bytes:
    """32 bytes for `purpose`, from `secret` (tests) or else the configured secret key."""
    if not purpose:
        raise ValueError("a key needs a purpose")
    if secret is None:
        secret = settings.secret_key.get_secret_value()
    return _derive(secret, purpose)


@lru_cache(maxsize=128)
def _derive(secret: str, purpose: str) -> bytes:
    # The secret is part of the cache key, so a changed setting (or a test's monkeypatch)
    # never serves a key derived from the old one.
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,  # the secret key is already uniformly random; RFC 5869 allows no salt
        info=_HKDF_INFO_PREFIX + purpose.encode(),
    )
    return hkdf.derive(secret.encode())


def _secret_keys() -> list[str]:
    """Master secrets, newest first; the rest are only read during a key rotation."""
    # To rotate: add e.g. `settings.previous_secret_keys` after the current key here. New
    # data is sealed with the first key; old data stays readable until re-encrypted.
    return [settings.secret_key.get_secret_value()]


def _keys(purpose: str) -> list[Fernet]:
    """Fernet keys for an encryption `purpose`, newest (the one that encrypts) first."""
    if not _PURPOSE_RE.fullmatch(purpose):
        raise ValueError(f"purpose must be lowercase letters, digits and dashes: {purpose!r}")
    return [
        Fernet(base64.urlsafe_b64encode(derive_key(_ENCRYPTION_PREFIX + purpose, secret=secret)))
        for secret in _secret_keys()
    ]


def encrypt_secret(plaintext: str, *, purpose: str) -> str:
    """Seal `plaintext` (a TOTP seed, an SMTP password) for storage; authenticated."""
    return MultiFernet(_keys(purpose)).encrypt(plaintext.encode()).decode("ascii")


def decrypt_secret(token: str, *, purpose: str) -> str:
    """Open a value sealed by `encrypt_secret` with the same purpose, else DecryptionError."""
    try:
        return MultiFernet(_keys(purpose)).decrypt(token).decode()
    except (InvalidToken, ValueError) as exc:
        # ValueError: a token that is not ASCII, or plaintext that is not UTF-8 — both mean
        # the stored value is not ours, which callers handle like any bad ciphertext.
        raise DecryptionError("cannot decrypt the stored secret") from exc


def hash_token(token: str) -> str:
    """Hex HMAC-SHA256 of a high-entropy token, for lookup by hash in the database.

    A fast keyed hash is enough: a random token of 128 bits or more cannot be guessed, so
    there is nothing for a slow hash to protect, and the key makes a database dump useless
    on its own. Lookups stay a plain equality on an indexed column.
    """
    key = derive_key(_HMAC_PURPOSE)
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token (refresh tokens, API keys, reset and invitation links)."""
    # A real check, not `assert`: asserts vanish under `python -O`.
    if nbytes < _MIN_TOKEN_BYTES:
        raise ValueError(f"tokens need at least {_MIN_TOKEN_BYTES} random bytes")
    return secrets.token_urlsafe(nbytes)


def constant_time_equals(a: str, b: str) -> bool:
    """Compare secrets without leaking, through timing, how much of a guess was right."""
    return hmac.compare_digest(a.encode(), b.encode())
