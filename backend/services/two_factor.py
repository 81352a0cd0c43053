"""TOTP two-factor authentication for a user: set up, enable, disable, recovery codes, and
the second step of a login."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.crypto import decrypt_secret, encrypt_secret, hash_token
from core.exceptions import AppError
from core.rate_limit import rate_limiter
from core.security import verify_password
from core.two_factor_auth import (
    hash_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    qr_code_data_uri,
    verify_totp,
)
from db.scoping import AuthContext, RequestMeta, auth_lookup, bind_tenant
from models.auth import RecoveryCode, TokenPurpose, UserToken
from models.company import Company
from models.user import User, UserStatus
from services import audit
from services.auth import IssuedTokens, complete_login, now_utc
from services.passwords import WrongPassword

TOTP_PURPOSE = "totp"
VERIFY_LIMIT = "10/5 minutes"
MAX_CHALLENGE_ATTEMPTS = 5


class TwoFactorError(AppError):
    status_code = 400
    code = "invalid_2fa_code"
    message = "The code is not valid. Codes can be used once; wait for the next one."


class TwoFactorState(AppError):
    status_code = 409
    code = "2fa_state"
    message = "Two-factor authentication is not in a state that allows this."


class InvalidChallenge(AppError):
    status_code = 401
    code = "invalid_challenge"
    message = "The sign-in challenge is invalid or has expired; sign in again."


@dataclass(frozen=True, slots=True)
class TwoFactorSetup:
    secret: str
    otpauth_uri: str
    qr_code: str  # data:image/png;base64,...


def _secret(user: User) -> str:
    if user.totp_secret_encrypted is None:
        raise TwoFactorState("Start the set-up first.")
    return decrypt_secret(user.totp_secret_encrypted, purpose=TOTP_PURPOSE)


def _accept_code(user: User, code: str) -> bool:
    """True if `code` is a valid TOTP code never used before (it is then spent)."""
    step = verify_totp(_secret(user), code, last_used_step=user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


async def _accept_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    found = await session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if found is None:
        return False
    found.used_at = now_utc()
    return True


async def setup(user: User) -> TwoFactorSetup:
    if user.has_2fa:
        raise TwoFactorState("Two-factor authentication is already on; disable it first.")
    secret = new_totp_secret()
    user.totp_secret_encrypted = encrypt_secret(secret, purpose=TOTP_PURPOSE)
    user.totp_last_step = None
    uri = provisioning_uri(secret, user.email, settings.app_name)
    return TwoFactorSetup(secret=secret, otpauth_uri=uri, qr_code=qr_code_data_uri(uri))


async def _new_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = new_recovery_codes(10)
    session.add_all(
        RecoveryCode(company_id=user.company_id, user_id=user.id, code_hash=hash_recovery_code(c))
        for c in codes
    )
    return codes


async def enable(
    session: AsyncSession, auth: AuthContext, user: User, *, code: str, meta: RequestMeta
) -> list[str]:
    """Turn 2FA on with a first valid code; returns the recovery codes, shown this once."""
    if user.has_2fa:
        raise TwoFactorState("Two-factor authentication is already on.")
    await rate_limiter.hit("2fa-verify", VERIFY_LIMIT, account=str(user.id))
    if not _accept_code(user, code):
        raise TwoFactorError()
    user.totp_enabled_at = now_utc()
    codes = await _new_recovery_codes(session, user)
    await audit.record(session, "auth.2fa.enabled", auth=auth, target=("user", user.id), meta=meta)
    return codes


async def disable(
    session: AsyncSession,
    auth: AuthContext,
    user: User,
    *,
    password: str,
    code: str,
    meta: RequestMeta,
) -> None:
    if not user.has_2fa:
        raise TwoFactorState("Two-factor authentication is not on.")
    await rate_limiter.hit("2fa-verify", VERIFY_LIMIT, account=str(user.id))
    if not (await verify_password(password, user.password_hash)).valid:
        await audit.record_refusal(
            "auth.2fa.disable_failed", auth=auth, target=("user", user.id), meta=meta
        )
        raise WrongPassword()
    if not (_accept_code(user, code) or await _accept_recovery_code(session, user, code)):
        await audit.record_refusal(
            "auth.2fa.disable_failed", auth=auth, target=("user", user.id), meta=meta
        )
        raise TwoFactorError()
    user.totp_enabled_at = None
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await audit.record(session, "auth.2fa.disabled", auth=auth, target=("user", user.id), meta=meta)


async def regenerate_recovery_codes(
    session: AsyncSession, auth: AuthContext, user: User, *, code: str, meta: RequestMeta
) -> list[str]:
    if not user.has_2fa:
        raise TwoFactorState("Two-factor authentication is not on.")
    await rate_limiter.hit("2fa-verify", VERIFY_LIMIT, account=str(user.id))
    if not _accept_code(user, code):
        raise TwoFactorError()
    codes = await _new_recovery_codes(session, user)
    await audit.record(
        session,
        "auth.2fa.recovery_codes_regenerated",
        auth=auth,
        target=("user", user.id),
        meta=meta,
    )
    return codes


async def verify_challenge(
    session: AsyncSession, *, challenge: str, code: str, meta: RequestMeta
) -> IssuedTokens:
    """Second step of a login: the challenge from the password step, plus a TOTP code or a
    recovery code."""
    await rate_limiter.hit("2fa-challenge", VERIFY_LIMIT, ip=meta.ip)
    async with auth_lookup(session):
        token = await session.scalar(
            select(UserToken).where(
                UserToken.token_hash == hash_token(challenge),
                UserToken.purpose == TokenPurpose.mfa_challenge,
            )
        )
    if token is None or token.used_at is not None or token.expires_at <= now_utc():
        raise InvalidChallenge()
    await bind_tenant(session, token.company_id)
    user = await session.get(User, token.user_id)
    company = await session.get(Company, token.company_id)
    if (
        user is None
        or company is None
        or user.status is not UserStatus.active
        or not company.is_active
    ):
        raise InvalidChallenge()
    method = "totp"
    accepted = user.has_2fa and _accept_code(user, code)
    if not accepted and user.has_2fa and await _accept_recovery_code(session, user, code):
        accepted, method = True, "recovery_code"
    if not accepted:
        await _count_failed_attempt(token)
        await audit.record_refusal(
            "auth.2fa.failed",
            company_id=user.company_id,
            actor_email=user.email,
            target=("user", user.id),
            meta=meta,
        )
        raise TwoFactorError()
    token.used_at = now_utc()
    return await complete_login(session, user, company, meta, method=method)


async def _count_failed_attempt(token: UserToken) -> None:
    """A challenge survives a few wrong codes, then dies (in its own transaction, as the
    refused request rolls back)."""
    from db.session import unit_of_work

    async with unit_of_work() as own:
        await bind_tenant(own, token.company_id)
        fresh = await own.get(UserToken, token.id)
        if fresh is not None:
            fresh.attempts += 1
            if fresh.attempts >= MAX_CHALLENGE_ATTEMPTS:
                fresh.used_at = now_utc()
