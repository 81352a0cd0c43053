"""Phishing sending profiles (SMTP relays)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from schemas.base import ErrorResponse, Page
from schemas.sending_profile import (
    SendingProfileCreate,
    SendingProfileRead,
    SendingProfileUpdate,
    TestSendRequest,
    TestSendResult,
)
from services import sending_profiles

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/sending-profiles", tags=["phishing"]
)

Manage = Annotated[AuthContext, Depends(require(Permission.phishing_manage))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("")
async def list_profiles(
    auth: Manage, session: SessionDep, page: PageDep
) -> Page[SendingProfileRead]:
    """The company's sending profiles (passwords never shown)."""
    result = await sending_profiles.list_profiles(session, auth, page)
    return Page[SendingProfileRead](
        items=[SendingProfileRead.model_validate(p) for p in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201, responses={400: {"model": ErrorResponse}})
async def create_profile(
    body: SendingProfileCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> SendingProfileRead:
    """Add an SMTP relay; the password is stored encrypted."""
    profile = await sending_profiles.create_profile(session, auth, body, meta=meta)
    return SendingProfileRead.model_validate(profile)


@router.get("/{profile_id}", responses=_404)
async def get_profile(
    profile_id: uuid.UUID, auth: Manage, session: SessionDep
) -> SendingProfileRead:
    """One sending profile."""
    return SendingProfileRead.model_validate(
        await sending_profiles.get_profile(session, auth, profile_id)
    )


@router.patch("/{profile_id}", responses=_404)
async def update_profile(
    profile_id: uuid.UUID,
    body: SendingProfileUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> SendingProfileRead:
    """Change a profile; `password: null` removes the stored password."""
    profile = await sending_profiles.update_profile(session, auth, profile_id, body, meta=meta)
    return SendingProfileRead.model_validate(profile)


@router.delete("/{profile_id}", status_code=204, responses=_404)
async def delete_profile(
    profile_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> None:
    """Delete a profile."""
    await sending_profiles.delete_profile(session, auth, profile_id, meta=meta)


@router.post("/{profile_id}/test", responses=_404)
async def send_test_message(
    profile_id: uuid.UUID, body: TestSendRequest, auth: Manage, session: SessionDep
) -> TestSendResult:
    """Send one real email through the profile and report the server's answer."""
    delivered, reply = await sending_profiles.send_test_message(
        session, auth, profile_id, str(body.to)
    )
    return TestSendResult(delivered=delivered, server_reply=reply)
