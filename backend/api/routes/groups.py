"""Groups: static and rule-based, with their current members."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.group import Group
from schemas.base import ErrorResponse, Page
from schemas.group import (
    GroupCreate,
    GroupDetail,
    GroupRead,
    GroupUpdate,
    ManagerIds,
    MemberIds,
    MemberRead,
)
from schemas.user import UserRead
from services import groups

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/groups", tags=["groups"])

ReadGroups = Annotated[AuthContext, Depends(require(Permission.groups_read))]
WriteGroups = Annotated[AuthContext, Depends(require(Permission.groups_write))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("")
async def list_groups(auth: ReadGroups, session: SessionDep, page: PageDep) -> Page[GroupRead]:
    """The company's groups."""
    result = await groups.list_groups(session, auth, page)
    return Page[GroupRead](
        items=[GroupRead.model_validate(g) for g in result.items], next_cursor=result.next_cursor
    )


@router.post("", status_code=201, responses={409: {"model": ErrorResponse}})
async def create_group(
    body: GroupCreate, auth: WriteGroups, session: SessionDep, meta: MetaDep
) -> GroupDetail:
    """Create a static group (with optional members) or a rule-based group."""
    group = await groups.create_group(session, auth, body, meta=meta)
    return await _detail(session, group)


@router.get("/{group_id}", responses=_404)
async def get_group(group_id: uuid.UUID, auth: ReadGroups, session: SessionDep) -> GroupDetail:
    """One group, with its current member count."""
    return await _detail(session, await groups.get_group(session, auth, group_id))


async def _detail(session: SessionDep, group: Group) -> GroupDetail:
    return GroupDetail(
        **GroupRead.model_validate(group).model_dump(),
        member_count=await groups.count_members(session, group),
        manager_ids=await groups.manager_ids(session, group),
    )


@router.put("/{group_id}/managers", responses={**_404, 400: {"model": ErrorResponse}})
async def set_managers(
    group_id: uuid.UUID,
    body: ManagerIds,
    auth: WriteGroups,
    session: SessionDep,
    meta: MetaDep,
) -> GroupDetail:
    """Set who manages the group: they will see its people (and, later, its reports)."""
    group = await groups.set_managers(session, auth, group_id, body.user_ids, meta=meta)
    return await _detail(session, group)


@router.patch("/{group_id}", responses=_404)
async def update_group(
    group_id: uuid.UUID,
    body: GroupUpdate,
    auth: WriteGroups,
    session: SessionDep,
    meta: MetaDep,
) -> GroupRead:
    """Rename, describe, or change the rules of a rule-based group."""
    return GroupRead.model_validate(
        await groups.update_group(session, auth, group_id, body, meta=meta)
    )


@router.delete("/{group_id}", status_code=204, responses=_404)
async def delete_group(
    group_id: uuid.UUID, auth: WriteGroups, session: SessionDep, meta: MetaDep
) -> None:
    """Delete a group (its people stay)."""
    await groups.delete_group(session, auth, group_id, meta=meta)


@router.get("/{group_id}/members", responses=_404)
async def list_members(
    group_id: uuid.UUID, auth: ReadGroups, session: SessionDep, page: PageDep
) -> Page[MemberRead]:
    """Current members, each with the reason they are in the group."""
    result = await groups.list_members(session, auth, group_id, page)
    return Page[MemberRead](
        items=[
            MemberRead(user=UserRead.model_validate(m.user), reasons=m.reasons)
            for m in result.items
        ],
        next_cursor=result.next_cursor,
    )


@router.post("/{group_id}/members", responses={**_404, 409: {"model": ErrorResponse}})
async def add_members(
    group_id: uuid.UUID,
    body: MemberIds,
    auth: WriteGroups,
    session: SessionDep,
    meta: MetaDep,
) -> dict[str, int]:
    """Add people to a static group (already-present ones are ignored)."""
    added = await groups.add_members(session, auth, group_id, body.user_ids, meta=meta)
    return {"added": added}


@router.delete("/{group_id}/members", status_code=204, responses=_404)
async def remove_members(
    group_id: uuid.UUID,
    auth: WriteGroups,
    session: SessionDep,
    meta: MetaDep,
    user_id: Annotated[list[uuid.UUID], Query(min_length=1, max_length=500)],
) -> None:
    """Remove people from a static group: `?user_id=…&user_id=…`."""
    await groups.remove_members(session, auth, group_id, user_id, meta=meta)
