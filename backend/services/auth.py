"""Sign-up, login, token rotation, logout, password reset and invitations.

Refresh tokens are opaque, stored hashed, and rotate on every use within a family; a token
used twice revokes its family (it was copied). Access tokens are short JWTs; they die early
when the user logs out everywhere, changes password or is disabled
(`users.sessions_valid_after`), or when their own session is logged out (a revoked-session
mark in the cache, kept as long as an access token lives).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import cache
from core.config import settings
from core.crypto import hash_token, new_token
from core.exceptions import AppError, PermissionDenied, Unauthorized
from core.rate_limit import rate_limiter
from core.security import (
    check_password_policy,
    create_access_token,
    hash_password,
    verify_password,
)
from db.scoping import AuthContext, RequestMeta, auth_lookup, bind_tenant
from db.session import unit_of_work
from models.auth import RefreshToken, TokenPurpose, UserToken
from models.company import Company
from models.user import Role, User, UserStatus
from services import audit
from services.principals import forget

MFA_CHALLENGE_MINUTES = 5


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "The email or password is incorrect."


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    message = "The refresh token is not valid; log in again."


class InvalidLinkToken(AppError):
    status_code = 400
    code = "invalid_token"
    message = "This link is invalid or has expired."


class AccountUnavailable(PermissionDenied):
    code = "account_unavailable"
    message = "This account cannot sign in; contact your administrator."


class EmailTaken(AppError):
    status_code = 409
    code = "email_taken"
    message = "An account with this email already exists."


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user: User
    mfa_setup_required: bool = False


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    challenge: str
    expires_at: datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- sessions ----------------------------------------------------------------------------


async def issue_tokens(
    session: AsyncSession,
    user: User,
    meta: RequestMeta,
    *,
    family_id: uuid.UUID | None = None,
    family_expires_at: datetime | None = None,
    mfa_setup_pending: bool = False,
) -> IssuedTokens:
    now = now_utc()
    family = family_id or uuid.uuid4()
    absolute = family_expires_at or now + timedelta(days=settings.refresh_token_absolute_days)
    raw = new_token(32)
    refresh = RefreshToken(
        company_id=user.company_id,
        user_id=user.id,
        family_id=family,
        token_hash=hash_token(raw),
        expires_at=min(now + timedelta(days=settings.refresh_token_idle_days), absolute),
        family_expires_at=absolute,
        ip=meta.ip,
        user_agent=(meta.user_agent or "")[:400] or None,
    )
    session.add(refresh)
    access, access_expires = create_access_token(
        user.id, user.company_id, family, now=now, mfa_setup_pending=mfa_setup_pending
    )
    return IssuedTokens(access, access_expires, raw, refresh.expires_at, user, mfa_setup_pending)


def _revoked_session_key(session_id: uuid.UUID) -> str:
    return f"revoked-session:{session_id}"


async def is_session_revoked(session_id: uuid.UUID) -> bool:
    return await cache.get(_revoked_session_key(session_id)) is not None


async def _mark_session_revoked(session_id: uuid.UUID) -> None:
    # An access token of this session can live at most this long; after that the mark is moot.
    await cache.set(
        _revoked_session_key(session_id), b"1", ttl=settings.access_token_minutes * 60 + 60
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now_utc())
    )
    await _mark_session_revoked(family_id)


async def end_all_sessions(session: AsyncSession, user: User) -> None:
    """Every refresh token of the user stops working, and so does every access token
    issued until now."""
    user.sessions_valid_after = now_utc()
    forget(session, user.id)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now_utc())
    )


async def void_pending_tokens(session: AsyncSession, user: User, purpose: TokenPurpose) -> None:
    """Earlier unused links of this kind stop working (a new one is being sent)."""
    pending = await session.scalars(
        select(UserToken).where(
            UserToken.user_id == user.id,
            UserToken.purpose == purpose,
            UserToken.used_at.is_(None),
        )
    )
    now = now_utc()
    for token in pending:
        token.used_at = now


# --- registration ------------------------------------------------------------------------


async def email_exists(session: AsyncSession, email: str) -> bool:
    """Emails are unique across companies, so this looks at every company's users."""
    async with auth_lookup(session):
        found = await session.scalar(select(User.id).where(User.email == normalize_email(email)))
    return found is not None


async def register_company(
    session: AsyncSession,
    *,
    company_name: str,
    email: str,
    password: str,
    first_name: str | None,
    last_name: str | None,
    meta: RequestMeta,
) -> IssuedTokens:
    """Create a company and its first admin in one transaction, and log the admin in."""
    email = normalize_email(email)
    check_password_policy(password, email=email)
    if await email_exists(session, email):
        raise EmailTaken()
    company = Company(name=company_name, email_domains=[email.split("@", 1)[1]])
    session.add(company)
    await session.flush()
    await bind_tenant(session, company.id)
    user = User(
        company_id=company.id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=Role.admin,
        status=UserStatus.active,
        password_hash=await hash_password(password),
        password_changed_at=now_utc(),
        last_login_at=now_utc(),
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        "company.registered",
        company_id=company.id,
        actor_email=email,
        target=("company", company.id),
        meta=meta,
        changes={"name": company_name},
    )
    return await issue_tokens(session, user, meta)


# --- login -------------------------------------------------------------------------------


async def find_by_email(session: AsyncSession, email: str) -> tuple[User, Company] | None:
    """The account with this (normalised) email and its company, in whichever company."""
    async with auth_lookup(session):
        row = (
            await session.execute(
                select(User, Company)
                .join(Company, Company.id == User.company_id)
                .where(User.email == email)
            )
        ).first()
    return (row[0], row[1]) if row else None


async def login(
    session: AsyncSession, *, email: str, password: str, meta: RequestMeta
) -> IssuedTokens | MfaChallenge:
    email = normalize_email(email)
    await rate_limiter.hit("login", settings.login_limit_per_ip, ip=meta.ip)
    await rate_limiter.check("login-failures", settings.login_failures_per_account, account=email)
    found = await find_by_email(session, email)
    check = await verify_password(password, found[0].password_hash if found else None)
    if not found or not check.valid:
        await rate_limiter.consume(
            "login-failures", settings.login_failures_per_account, account=email
        )
        await audit.record_refusal(
            "auth.login.failed",
            company_id=found[1].id if found else None,
            actor_email=email,
            target=("user", found[0].id) if found else None,
            meta=meta,
            changes={"reason": "bad_password" if found else "unknown_email"},
        )
        raise InvalidCredentials()
    user, company = found
    await bind_tenant(session, company.id)
    if not company.is_active or user.status is not UserStatus.active:
        await audit.record_refusal(
            "auth.login.refused",
            company_id=company.id,
            actor_email=email,
            target=("user", user.id),
            meta=meta,
            changes={"reason": "company_suspended" if not company.is_active else user.status},
        )
        raise AccountUnavailable()
    if check.new_hash:
        user.password_hash = check.new_hash
    if user.has_2fa:
        return await _start_mfa_challenge(session, user)
    return await complete_login(session, user, company, meta)


async def complete_login(
    session: AsyncSession,
    user: User,
    company: Company,
    meta: RequestMeta,
    *,
    method: str = "password",
) -> IssuedTokens:
    user.last_login_at = now_utc()
    await audit.record(
        session,
        "auth.login.succeeded",
        company_id=user.company_id,
        actor_email=user.email,
        target=("user", user.id),
        meta=meta,
        changes={"method": method},
    )
    return await issue_tokens(
        session, user, meta, mfa_setup_pending=mfa_setup_pending(user, company)
    )


def mfa_setup_pending(user: User, company: Company) -> bool:
    return (
        company.require_2fa_for_admins
        and user.role in (Role.admin, Role.platform_admin)
        and not user.has_2fa
    )


async def _start_mfa_challenge(session: AsyncSession, user: User) -> MfaChallenge:
    raw = new_token(32)
    expires = now_utc() + timedelta(minutes=MFA_CHALLENGE_MINUTES)
    session.add(
        UserToken(
            company_id=user.company_id,
            user_id=user.id,
            purpose=TokenPurpose.mfa_challenge,
            token_hash=hash_token(raw),
            expires_at=expires,
        )
    )
    return MfaChallenge(raw, expires)


# --- refresh and logout ------------------------------------------------------------------


async def refresh(session: AsyncSession, *, refresh_token: str, meta: RequestMeta) -> IssuedTokens:
    now = now_utc()
    async with auth_lookup(session):
        token = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
    if token is None:
        raise InvalidRefreshToken()
    await bind_tenant(session, token.company_id)
    if token.used_at is not None:
        # A rotated token came back: someone holds a copy. End the whole login.
        await _revoke_family_now(token.company_id, token.family_id)
        await audit.record_refusal(
            "auth.refresh.reused",
            company_id=token.company_id,
            target=("user", token.user_id),
            meta=meta,
            changes={"session_id": str(token.family_id)},
        )
        raise InvalidRefreshToken()
    if token.revoked_at is not None:
        raise InvalidRefreshToken()
    if token.expires_at <= now or token.family_expires_at <= now:
        raise InvalidRefreshToken()
    user = await session.get(User, token.user_id)
    company = await session.get(Company, token.company_id)
    if (
        user is None
        or company is None
        or user.status is not UserStatus.active
        or not company.is_active
    ):
        raise InvalidRefreshToken()
    token.used_at = now
    return await issue_tokens(
        session,
        user,
        meta,
        family_id=token.family_id,
        family_expires_at=token.family_expires_at,
        mfa_setup_pending=mfa_setup_pending(user, company),
    )


async def _revoke_family_now(company_id: uuid.UUID, family_id: uuid.UUID) -> None:
    """Revoke in a transaction of its own: the refused request rolls back, this must not."""
    async with unit_of_work() as own:
        await bind_tenant(own, company_id)
        await revoke_family(own, family_id)


async def logout(session: AsyncSession, auth: AuthContext, meta: RequestMeta) -> None:
    if auth.session_id is None:
        return
    await revoke_family(session, auth.session_id)
    await audit.record(
        session, "auth.logout", auth=auth, target=("user", auth.user_id or ""), meta=meta
    )


async def logout_all(
    session: AsyncSession, auth: AuthContext, user: User, meta: RequestMeta
) -> None:
    await end_all_sessions(session, user)
    await audit.record(session, "auth.logout_all", auth=auth, target=("user", user.id), meta=meta)
