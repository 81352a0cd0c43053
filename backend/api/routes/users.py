"""The signed-in user (`/users/me…`) and a company's users (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.dependencies.auth import Auth, CurrentUser, MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from api.routes.auth import token_response
from core.permissions import Permission
from db.scoping import AuthContext
from models.user import Role, UserStatus
from schemas.auth import TokenResponse
from schemas.base import ErrorResponse, Page
from schemas.two_factor import RecoveryCodes, TwoFactorCode, TwoFactorDisable, TwoFactorSetupRead
from schemas.user import PasswordChange, ProfileUpdate, UserCreate, UserRead, UserUpdate
from services import passwords, two_factor, users

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/users", tags=["users"])

ReadUsers = Annotated[AuthContext, Depends(require(Permission.users_read))]
WriteUsers = Annotated[AuthContext, Depends(require(Permission.users_write))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


# --- me ----------------------------------------------------------------------------------


@router.get("/me")
async def get_me(user: CurrentUser) -> UserRead:
    """My profile."""
    return UserRead.model_validate(user)


@router.patch("/me")
async def update_me(body: ProfileUpdate, user: CurrentUser, session: SessionDep) -> UserRead:
    """Change my name, time zone or language."""
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(user, field, value)
    await session.flush()
    return UserRead.model_validate(user)


@router.post("/me/password", responses={400: {"model": ErrorResponse}})
async def change_my_password(
    body: PasswordChange, auth: Auth, user: CurrentUser, session: SessionDep, meta: MetaDep
) -> TokenResponse:
    """Change my password; my other sessions end, this one gets fresh tokens."""
    tokens = await passwords.change_password(
        session,
        auth,
        user,
        current_password=body.current_password,
        new_password=body.new_password,
        meta=meta,
    )
    return token_response(tokens)


@router.post("/me/2fa/setup")
async def setup_2fa(user: CurrentUser) -> TwoFactorSetupRead:
    """Start TOTP set-up: a secret and a QR code for an authenticator app."""
    result = await two_factor.setup(user)
    return TwoFactorSetupRead(
        secret=result.secret, otpauth_uri=result.otpauth_uri, qr_code=result.qr_code
    )


@router.post("/me/2fa/enable")
async def enable_2fa(
    body: TwoFactorCode, auth: Auth, user: CurrentUser, session: SessionDep, meta: MetaDep
) -> RecoveryCodes:
    """Confirm set-up with a first code; returns 10 single-use recovery codes."""
    codes = await two_factor.enable(session, auth, user, code=body.code, meta=meta)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/me/2fa/disable", status_code=204)
async def disable_2fa(
    body: TwoFactorDisable, auth: Auth, user: CurrentUser, session: SessionDep, meta: MetaDep
) -> None:
    """Turn 2FA off: needs my password and a code."""
    await two_factor.disable(session, auth, user, password=body.password, code=body.code, meta=meta)


@router.post("/me/2fa/recovery-codes")
async def regenerate_recovery_codes(
    body: TwoFactorCode, auth: Auth, user: CurrentUser, session: SessionDep, meta: MetaDep
) -> RecoveryCodes:
    """Replace my recovery codes (the old ones stop working)."""
    codes = await two_factor.regenerate_recovery_codes(
        session, auth, user, code=body.code, meta=meta
    )
    return RecoveryCodes(recovery_codes=codes)


# --- company users -----------------------------------------------------------------------


@router.get("")
async def list_users(
    auth: ReadUsers,
    session: SessionDep,
    page: PageDep,
    role: Role | None = None,
    status: UserStatus | None = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    location: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search email and names")] = None,
) -> Page[UserRead]:
    """The company's users, newest first, with filters."""
    result = await users.list_users(
        session,
        auth,
        page,
        role=role,
        status=status,
        department=department,
        location=location,
        search=q,
    )
    return Page[UserRead](
        items=[UserRead.model_validate(u) for u in result.items], next_cursor=result.next_cursor
    )


@router.post("", status_code=201, responses={409: {"model": ErrorResponse}})
async def create_user(
    body: UserCreate, auth: WriteUsers, session: SessionDep, meta: MetaDep
) -> UserRead:
    """Add a user (invited by email unless `send_invitation` is false)."""
    return UserRead.model_validate(await users.create_user(session, auth, body, meta=meta))


@router.get("/{user_id}", responses=_404)
async def get_user(user_id: uuid.UUID, auth: ReadUsers, session: SessionDep) -> UserRead:
    """One user."""
    return UserRead.model_validate(await users.get_user(session, auth, user_id))


@router.patch("/{user_id}", responses=_404)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    auth: WriteUsers,
    session: SessionDep,
    meta: MetaDep,
) -> UserRead:
    """Change a user; disabling ends all their sessions at once."""
    return UserRead.model_validate(await users.update_user(session, auth, user_id, body, meta=meta))


@router.delete("/{user_id}", status_code=204, responses=_404)
async def delete_user(
    user_id: uuid.UUID, auth: WriteUsers, session: SessionDep, meta: MetaDep
) -> None:
    """Delete a user (kept, marked deleted, for the records)."""
    await users.delete_user(session, auth, user_id, meta=meta)


@router.post("/{user_id}/invite", responses=_404)
async def invite_user(
    user_id: uuid.UUID, auth: WriteUsers, session: SessionDep, meta: MetaDep
) -> UserRead:
    """(Re)send the invitation email; earlier links stop working."""
    return UserRead.model_validate(await users.invite_user(session, auth, user_id, meta=meta))
