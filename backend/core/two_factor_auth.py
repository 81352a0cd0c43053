"""TOTP second factor (RFC 6238) and recovery codes.

The parameters are the ones every authenticator app supports: SHA1, 6 digits, 30 s steps.
Storage is the caller's: the TOTP secret encrypted with `core.crypto.encrypt_secret`
(purpose "totp"), the last accepted step next to it, and recovery codes only as
`hash_recovery_code` values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import pyotp
import segno

from core.crypto import hash_token

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
# One step either side absorbs clock drift and the seconds a user takes to type the code.
TOTP_VALID_WINDOW = 1
_TOTP_SECRET_BASE32_CHARS = 32  # 160 bits, the key size RFC 4226 recommends for SHA1
_TOTP_CODE_RE = re.compile(r"[0-9]{6}")  # ASCII only: str.isdigit() accepts other scripts

# No 0/O, 1/I/L: codes are read off paper and typed by hand. 31 symbols give ~4.95 bits
# each, so 12 characters carry ~59 bits (10 would fall just short of 50).
RECOVERY_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECOVERY_CODE_GROUPS = 3
RECOVERY_CODE_GROUP_LENGTH = 4
_RECOVERY_CODE_STRIP = re.compile(r"[\s-]+")


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret of 160 bits."""
    return pyotp.random_base32(length=_TOTP_SECRET_BASE32_CHARS)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app enrols from (usually via a QR code)."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_code_data_uri(uri: str) -> str:
    """`uri` as a scannable PNG QR code in a `data:image/png;base64,...` string."""
    # make_qr, not make: segno.make may pick a Micro QR code, which phone apps cannot read.
    # Medium error correction keeps the symbol small; scale 5 and the standard 4-module
    # quiet zone keep it readable from a screen.
    qr = segno.make_qr(uri, error="m")
    data_uri: str = qr.png_data_uri(scale=5, border=4)
    return data_uri


def verify_totp(
    secret: str, code: str, *, last_used_step: int | None, at: datetime | None = None
) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_used_step`.

    The caller stores the returned step and passes it back next time, so each code is
    accepted once and a code older than one already used is refused. None on any failure.
    """
    normalized = "".join(code.split())
    if not _TOTP_CODE_RE.fullmatch(normalized):
        return None
    totp = _totp(secret)
    current = _time_step(at)
    # Newest first, so when two steps happen to share a code we keep the later one and the
    # stored high-water mark never has to go backwards.
    for step in range(current + TOTP_VALID_WINDOW, current - TOTP_VALID_WINDOW - 1, -1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step).encode(), normalized.encode()):
            return step
    return None


def new_recovery_codes(n: int = 10) -> list[str]:
    """`n` distinct single-use codes formatted `XXXX-XXXX-XXXX`; show once, store hashed."""
    codes: list[str] = []
    while len(codes) < n:
        code = _new_recovery_code()
        if code not in codes:  # a repeat is astronomically unlikely; this makes it impossible
            codes.append(code)
    return codes


def normalize_recovery_code(code: str) -> str:
    """The canonical form to hash: uppercase, without the spaces and dashes people type."""
    return _RECOVERY_CODE_STRIP.sub("", code).upper()


def hash_recovery_code(code: str) -> str:
    """The value to store for a recovery code, and to look a typed code up by."""
    return hash_token(normalize_recovery_code(code))


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_GROUP_LENGTH))
        for _ in range(RECOVERY_CODE_GROUPS)
    )
    return "-".join(groups)


def _totp(secret: str) -> pyotp.TOTP:
    # SHA1 is what authenticator apps implement; HMAC-SHA1 remains sound for this use.
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, digest=hashlib.sha1, interval=TOTP_STEP_SECONDS)


def _time_step(at: datetime | None) -> int:
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None:
        # A naive datetime would be read as server-local time and shift every step.
        raise ValueError("verify_totp needs a timezone-aware datetime")
    return int(at.timestamp()) // TOTP_STEP_SECONDS
