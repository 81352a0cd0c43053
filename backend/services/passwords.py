"""Changing, resetting and first setting a password (invitation acceptance)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.crypto import hash_token, new_token
from core.exceptions import AppError
from core.rate_limit import rate_limiter
from core.security import check_password_policy, hash_password, verify_password
from db.scoping import AuthContext, RequestMeta, auth_lookup, bind_tenant
from models.auth import TokenPurpose, UserToken
from models.company import Company
from models.user import User, UserStatus
from services import audit
from services.auth import (
    InvalidLinkToken,
    IssuedTokens,
    end_all_sessions,
    find_by_email,
    issue_tokens,
    normalize_email,
    now_utc,
    void_pending_tokens,
)
from services.email import send_after_commit

RESET_LIMIT = "5/hour"
LINK_ATTEMPTS_PER_IP = "20/minute"
# A reset request answers after about this long whether or not the email exists, so the
# timing tells nothing either.
RESET_RESPONSE_SECONDS = 0.35


class WrongPassword(AppError):
    status_code = 400
    code = "wrong_password"
    message = "The current password is not correct."


async def change_password(
    session: AsyncSession,
    auth: AuthContext,
    user: User,
    *,
    current_password: str,
    new_password: str,
    meta: RequestMeta,
) -> IssuedTokens:
    """Needs the current password; ends every other session and returns a fresh one."""
    await rate_limiter.hit("password-change", "10/hour", account=str(user.id))
    check = await verify_password(current_password, user.password_hash)
    if not check.valid:
        await audit.record_refusal(
            "auth.password.change_failed", auth=auth, target=("user", user.id), meta=meta
        )
        raise WrongPassword()
    check_password_policy(new_password, email=user.email)
    await _set_password(session, user, new_password)
    await audit.record(
        session, "auth.password.changed", auth=auth, target=("user", user.id), meta=meta
    )
    send_after_commit(session, user.email, "password_changed", {"full_name": user.full_name})
    return await issue_tokens(session, user, meta)


async def _set_password(session: AsyncSession, user: User, password: str) -> None:
    user.password_hash = await hash_password(password)
    user.password_changed_at = now_utc()
    await end_all_sessions(session, user)
    await session.flush()


async def request_reset(session: AsyncSession, *, email: str, meta: RequestMeta) -> None:
    """Email a reset link if the account exists; answer the same, in the same time, if not."""
    started = time.monotonic()
    email = normalize_email(email)
    await rate_limiter.hit("password-reset", RESET_LIMIT, ip=meta.ip, account=email)
    row = await find_by_email(session, email)
    if row and row[0].status is UserStatus.active and row[1].is_active:
        user = row[0]
        await bind_tenant(session, user.company_id)
        await void_pending_tokens(session, user, TokenPurpose.password_reset)
        raw = new_token(32)
        session.add(
            UserToken(
                company_id=user.company_id,
                user_id=user.id,
                purpose=TokenPurpose.password_reset,
                token_hash=hash_token(raw),
                expires_at=now_utc() + timedelta(minutes=settings.password_reset_minutes),
            )
        )
        send_after_commit(
            session,
            user.email,
            "password_reset",
            {
                "reset_url": f"{settings.public_url}/reset-password?token={raw}",
                "expires_minutes": settings.password_reset_minutes,
            },
        )
        await audit.record(
            session,
            "auth.password.reset_requested",
            company_id=user.company_id,
            actor_email=email,
            target=("user", user.id),
            meta=meta,
        )
    # Pad to a fixed time (with a little jitter) so a miss cannot be told from a hit.
    remaining = RESET_RESPONSE_SECONDS - (time.monotonic() - started)
    await asyncio.sleep(max(0.0, remaining) + random.uniform(0, 0.05))  # noqa: S311


async def _take_token(
    session: AsyncSession, raw: str, purpose: TokenPurpose, meta: RequestMeta
) -> tuple[UserToken, User]:
    await rate_limiter.hit(f"token-{purpose}", LINK_ATTEMPTS_PER_IP, ip=meta.ip)
    async with auth_lookup(session):
        token = await session.scalar(
            select(UserToken).where(
                UserToken.token_hash == hash_token(raw), UserToken.purpose == purpose
            )
        )
    if token is None or token.used_at is not None or token.expires_at <= now_utc():
        await audit.record_refusal(
            f"auth.{purpose}.invalid_token",
            company_id=token.company_id if token else None,
            target=("user", token.user_id) if token else None,
            meta=meta,
        )
        raise InvalidLinkToken()
    await bind_tenant(session, token.company_id)
    user = await session.get(User, token.user_id)
    company = await session.get(Company, token.company_id)
    if user is None or user.deleted_at is not None or company is None or not company.is_active:
        raise InvalidLinkToken()
    token.used_at = now_utc()
    return token, user


async def confirm_reset(
    session: AsyncSession, *, token: str, new_password: str, meta: RequestMeta
) -> None:
    _, user = await _take_token(session, token, TokenPurpose.password_reset, meta)
    if user.status is not UserStatus.active:
        raise InvalidLinkToken()
    check_password_policy(new_password, email=user.email)
    await _set_password(session, user, new_password)
    await audit.record(
        session,
        "auth.password.reset",
        company_id=user.company_id,
        actor_email=user.email,
        target=("user", user.id),
        meta=meta,
    )


async def accept_invitation(
    session: AsyncSession,
    *,
    token: str,
    password: str,
    first_name: str | None,
    last_name: str | None,
    meta: RequestMeta,
) -> IssuedTokens:
    _, user = await _take_token(session, token, TokenPurpose.invitation, meta)
    if user.status is not UserStatus.invited:
        raise InvalidLinkToken()
    check_password_policy(password, email=user.email)
    if first_name:
        user.first_name = first_name
    if last_name:
        user.last_name = last_name
    user.status = UserStatus.active
    await _set_password(session, user, password)
    user.last_login_at = now_utc()
    await audit.record(
        session,
        "user.invitation_accepted",
        company_id=user.company_id,
        actor_email=user.email,
        target=("user", user.id),
        meta=meta,
    )
    return await issue_tokens(session, user, meta)
