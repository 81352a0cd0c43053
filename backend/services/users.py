"""A company's people: create, read, update, disable, delete, invite."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.crypto import hash_token, new_token
from core.exceptions import AppError, BadRequest, NotFound, ValidationFailed
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.auth import TokenPurpose, UserToken
from models.company import Company
from models.user import Role, User, UserStatus
from schemas.user import UserCreate, UserUpdate
from services import audit
from services.auth import (
    EmailTaken,
    email_exists,
    end_all_sessions,
    normalize_email,
    now_utc,
    void_pending_tokens,
)
from services.email import send_after_commit
from services.groups import managed_people_filter
from services.principals import forget


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "No such user."


class CannotChangeSelf(AppError):
    status_code = 409
    code = "cannot_change_self"
    message = "You cannot remove your own admin access or disable yourself."


class InvalidManager(BadRequest):
    code = "invalid_manager"
    message = "The manager must be another user of the same company."


_AUDITED_FIELDS = ("role", "status")
# Columns that cannot be empty. UserUpdate lets every field be null (it is a partial
# update); for these a null is a mistake, not "clear it", and must not reach the database.
_NOT_NULL_FIELDS = ("role", "status", "custom_attributes")


async def load_active_user(
    session: AsyncSession, user_id: uuid.UUID, company_id: uuid.UUID
) -> User | None:
    """The user behind an access token, if they and their company may still act."""
    row = (
        await session.execute(
            select(User, Company)
            .join(Company, Company.id == User.company_id)
            .where(User.id == user_id, User.company_id == company_id)
        )
    ).first()
    if row is None:
        return None
    user, company = row
    if user.status is not UserStatus.active or not company.is_active:
        return None
    return user


async def get_user(session: AsyncSession, auth: AuthContext, user_id: uuid.UUID) -> User:
    if auth.role is Role.manager:
        # A manager sees the people of the groups they manage; others do not exist for them.
        stmt = scoped_select(User, auth).where(
            User.id == user_id, await managed_people_filter(session, auth)
        )
        found = await session.scalar(stmt)
        if found is None:
            raise UserNotFound()
        return found  # type: ignore[no-any-return]
    return await get_scoped(session, User, user_id, auth, error=UserNotFound)


async def list_users(
    session: AsyncSession,
    auth: AuthContext,
    page: PageParams,
    *,
    role: Role | None = None,
    status: UserStatus | None = None,
    department: str | None = None,
    location: str | None = None,
    search: str | None = None,
) -> PageResult[User]:
    stmt: Select[Any] = scoped_select(User, auth)
    if auth.role is Role.manager:
        stmt = stmt.where(await managed_people_filter(session, auth))
    if role:
        stmt = stmt.where(User.role == role)
    if status:
        stmt = stmt.where(User.status == status)
    if department:
        stmt = stmt.where(User.department == department)
    if location:
        stmt = stmt.where(User.location == location)
    if search:
        # autoescape: "%", "_" and "\\" typed in the search box are matched as themselves.
        term = search.lower()
        stmt = stmt.where(
            or_(
                User.email.contains(term, autoescape=True),
                func.lower(User.first_name).contains(term, autoescape=True),
                func.lower(User.last_name).contains(term, autoescape=True),
            )
        )
    return await paginate(session, stmt, page, order_by=(User.id,))


async def _check_manager(
    session: AsyncSession,
    auth: AuthContext,
    manager_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
) -> None:
    if manager_id is None:
        return
    if manager_id == user_id:
        raise InvalidManager()
    try:
        await get_user(session, auth, manager_id)
    except UserNotFound as exc:
        raise InvalidManager() from exc


async def create_user(
    session: AsyncSession, auth: AuthContext, data: UserCreate, *, meta: RequestMeta
) -> User:
    email = normalize_email(data.email)
    if await email_exists(session, email):
        raise EmailTaken()
    await _check_manager(session, auth, data.manager_id, None)
    fields = data.model_dump(exclude={"send_invitation", "email"})
    user = User(company_id=auth.company_id, email=email, status=UserStatus.invited, **fields)
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        "user.created",
        auth=auth,
        target=("user", user.id),
        meta=meta,
        changes={"email": email, "role": user.role},
    )
    if data.send_invitation:
        await invite_user(session, auth, user.id, meta=meta)
    return user


async def update_user(
    session: AsyncSession,
    auth: AuthContext,
    user_id: uuid.UUID,
    data: UserUpdate,
    *,
    meta: RequestMeta,
) -> User:
    user = await get_user(session, auth, user_id)
    changes = data.model_dump(exclude_unset=True)
    nulls = [field for field in _NOT_NULL_FIELDS if field in changes and changes[field] is None]
    if nulls:
        raise ValidationFailed(
            details=[
                {"loc": ["body", field], "msg": "may not be null", "type": "null_not_allowed"}
                for field in nulls
            ]
        )
    if user.id == auth.user_id and (
        changes.get("role", user.role) is not user.role or "status" in changes
    ):
        raise CannotChangeSelf()
    if user.role is Role.platform_admin and "role" in changes:
        raise CannotChangeSelf("A platform admin's role is managed by the operator.")
    if "manager_id" in changes:
        await _check_manager(session, auth, changes["manager_id"], user.id)
    if changes.get("status") is UserStatus.invited and user.status is not UserStatus.invited:
        raise BadRequest("A user cannot be put back to 'invited'; disable them instead.")
    before = {field: getattr(user, field) for field in _AUDITED_FIELDS if field in changes}
    if before:
        forget(session, user.id)
    for field, value in changes.items():
        setattr(user, field, value)
    if (
        changes.get("status") is UserStatus.disabled
        and before.get("status") is not UserStatus.disabled
    ):
        await end_all_sessions(session, user)
    await session.flush()
    audited = {
        f: [str(before[f]), str(getattr(user, f))] for f in before if before[f] != getattr(user, f)
    }
    if audited:
        action = "user.role_changed" if "role" in audited else "user.status_changed"
        await audit.record(
            session, action, auth=auth, target=("user", user.id), meta=meta, changes=audited
        )
    return user


async def delete_user(
    session: AsyncSession, auth: AuthContext, user_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    user = await get_user(session, auth, user_id)
    if user.id == auth.user_id:
        raise CannotChangeSelf("You cannot delete yourself.")
    await end_all_sessions(session, user)
    user.soft_delete()
    # Their reports no longer have this manager (the row stays, for the records).
    await session.execute(
        update(User)
        .where(User.company_id == auth.company_id, User.manager_id == user.id)
        .values(manager_id=None)
    )
    await audit.record(
        session,
        "user.deleted",
        auth=auth,
        target=("user", user.id),
        meta=meta,
        changes={"email": user.email},
    )


async def invite_user(
    session: AsyncSession, auth: AuthContext, user_id: uuid.UUID, *, meta: RequestMeta
) -> User:
    """(Re)send the invitation: earlier links stop working, the new one is emailed."""
    user = await get_user(session, auth, user_id)
    if user.status is not UserStatus.invited:
        raise AppError("Only invited users can be invited again.")
    now = now_utc()
    await void_pending_tokens(session, user, TokenPurpose.invitation)
    raw = new_token(32)
    expires = now + timedelta(days=settings.invitation_days)
    session.add(
        UserToken(
            company_id=user.company_id,
            user_id=user.id,
            purpose=TokenPurpose.invitation,
            token_hash=hash_token(raw),
            expires_at=expires,
        )
    )
    company = await session.get(Company, user.company_id)
    inviter = await session.get(User, auth.user_id) if auth.user_id else None
    context = {
        "inviter_name": inviter.full_name if inviter else (company.name if company else ""),
        "company_name": company.name if company else "",
        "accept_url": f"{settings.public_url}/accept-invitation?token={raw}",
        "expires_at": expires,
    }
    send_after_commit(session, user.email, "invitation", context)
    await audit.record(session, "user.invited", auth=auth, target=("user", user.id), meta=meta)
    return user
