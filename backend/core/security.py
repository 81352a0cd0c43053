"""Passwords and access tokens.

Passwords: bcrypt through pwdlib, whose `verify_and_update` tells us when a stored hash was
made with other parameters so it can be upgraded at login. bcrypt at cost 12 takes about a
quarter of a second of CPU, so hashing and verifying always run in a worker thread: a burst
of logins must not stall every other request on the event loop.

Access tokens: short-lived JWTs, HS256 pinned on decode (no `alg: none`, no algorithm
confusion), with `iss`, `aud`, `exp` and our own `typ` checked. They carry ids only — no
email, no name.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

from core.config import BACKEND_DIR, settings
from core.exceptions import ValidationFailed

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a token type name, not a secret
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
# bcrypt reads at most 72 bytes (and the bcrypt library refuses more), so the policy caps
# bytes as well as characters.
MAX_PASSWORD_BYTES = 72

_password_hash = PasswordHash((BcryptHasher(rounds=settings.bcrypt_rounds),))
# Verified against when the email is unknown, so that a miss costs the same time as a hit.
_DUMMY_HASH = _password_hash.hash("vigil-dummy-password-for-timing")


class WeakPassword(ValidationFailed):
    code = "weak_password"
    message = "The password does not meet the password policy."


# --- passwords ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = BACKEND_DIR / "core" / "data" / "common-passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


_TRAILING_NOISE = re.compile(r"[\d\W_]+$")
_LEADING_NOISE = re.compile(r"^[\d\W_]+")


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Every way `password` breaks the policy, in words a person can act on."""
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    elif len(password.encode()) > MAX_PASSWORD_BYTES:
        problems.append(f"Use at most {MAX_PASSWORD_BYTES} bytes (fewer accented characters).")
    lowered = password.lower()
    common = _common_passwords()
    # "Password123456!" is still "password": strip digits and symbols around a common word.
    core = _LEADING_NOISE.sub("", _TRAILING_NOISE.sub("", lowered))
    if lowered in common or (core and core in common and len(core) >= 4):
        problems.append("This password is too common; choose one that is not on public lists.")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 3 and local in lowered:
            problems.append("Do not include your email address in your password.")
    return problems


def check_password_policy(password: str, *, email: str | None = None) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise WeakPassword(details={"problems": problems})


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_password_hash.hash, password)


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    valid: bool
    new_hash: str | None  # set when the stored hash should be replaced (parameters changed)


async def verify_password(password: str, stored_hash: str | None) -> PasswordCheck:
    """Verify in a thread. With no stored hash, or a password bcrypt cannot take (over 72
    bytes: no stored password can be that long), spend the same time and fail."""
    if stored_hash is None or len(password.encode()) > MAX_PASSWORD_BYTES:
        await anyio.to_thread.run_sync(_password_hash.verify, "x", _DUMMY_HASH)
        return PasswordCheck(False, None)
    valid, updated = await anyio.to_thread.run_sync(
        _password_hash.verify_and_update, password, stored_hash
    )
    return PasswordCheck(bool(valid), updated)


# --- access tokens -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    company_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: datetime
    mfa_setup_pending: bool = False


class InvalidToken(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


def create_access_token(
    user_id: uuid.UUID,
    company_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    now: datetime | None = None,
    mfa_setup_pending: bool = False,
) -> tuple[str, datetime]:
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=settings.access_token_minutes)
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "cid": str(company_id),
        "sid": str(session_id),
        "typ": ACCESS_TOKEN_TYPE,
        # Sub-second precision, so "tokens issued before this instant" (logout-all) cannot
        # catch a token issued in the same second just after it.
        "iat": issued.timestamp(),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if mfa_setup_pending:
        # Until the user sets up 2FA, this token opens only the 2FA set-up routes.
        payload["mfa"] = "setup"
    token = jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM)
    return token, expires


# Verified access tokens, so a client's next requests skip the signature check and the
# claim parsing (PyJWT was a tenth of an authenticated read's CPU time). Only tokens that
# passed in full are kept, each until its own `exp`, and only while the key, audience and
# issuer they were checked against are still the configured ones.
_VERIFIED_MAX = 10_000
_verified: dict[str, tuple[float, tuple[str, str, str], AccessClaims]] = {}


def decode_access_token(token: str) -> AccessClaims:
    checked_with = (
        settings.secret_key.get_secret_value(),
        settings.jwt_audience,
        settings.jwt_issuer,
    )
    hit = _verified.get(token)
    if hit is not None and hit[1] == checked_with and time.time() < hit[0]:
        return hit[2]
    claims, expires = _decode_access_token(token)
    if len(_verified) >= _VERIFIED_MAX:
        del _verified[next(iter(_verified))]
    _verified[token] = (expires, checked_with, claims)
    return claims


def _decode_access_token(token: str) -> tuple[AccessClaims, float]:
    try:
        payload = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "typ"]},
        )
        if payload.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token")
        claims = AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            company_id=uuid.UUID(payload["cid"]),
            session_id=uuid.UUID(payload["sid"]),
            issued_at=datetime.fromtimestamp(float(payload["iat"]), UTC),
            mfa_setup_pending=payload.get("mfa") == "setup",
        )
        return claims, float(payload["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
