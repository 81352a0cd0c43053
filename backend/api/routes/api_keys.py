"""Company API keys for integrations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from schemas.api_key import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from schemas.base import ErrorResponse, Page
from services import api_keys

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/api-keys", tags=["api keys"])

ManageKeys = Annotated[AuthContext, Depends(require(Permission.api_keys_manage))]


@router.get("")
async def list_keys(auth: ManageKeys, session: SessionDep, page: PageDep) -> Page[ApiKeyRead]:
    """The company's keys (never the keys themselves)."""
    result = await api_keys.list_keys(session, auth, page)
    return Page[ApiKeyRead](
        items=[ApiKeyRead.model_validate(k) for k in result.items], next_cursor=result.next_cursor
    )


@router.post("", status_code=201)
async def create_key(
    body: ApiKeyCreate, auth: ManageKeys, session: SessionDep, meta: MetaDep
) -> ApiKeyCreated:
    """Create a key; the response is the only time it is shown."""
    created = await api_keys.create_key(session, auth, name=body.name, scope=body.scope, meta=meta)
    return ApiKeyCreated(**ApiKeyRead.model_validate(created.key).model_dump(), key=created.secret)


@router.delete("/{key_id}", status_code=204, responses={404: {"model": ErrorResponse}})
async def revoke_key(
    key_id: uuid.UUID, auth: ManageKeys, session: SessionDep, meta: MetaDep
) -> None:
    """Revoke a key: it stops working at once."""
    await api_keys.revoke_key(session, auth, key_id, meta=meta)
