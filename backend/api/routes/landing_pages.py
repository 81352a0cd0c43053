"""Phishing landing pages."""

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
from schemas.landing_page import (
    LandingPageCreate,
    LandingPageImport,
    LandingPageRead,
    LandingPageUpdate,
)
from services import landing_pages

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/landing-pages", tags=["phishing"]
)

Manage = Annotated[AuthContext, Depends(require(Permission.phishing_manage))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("")
async def list_pages(auth: Manage, session: SessionDep, page: PageDep) -> Page[LandingPageRead]:
    """The company's landing pages."""
    result = await landing_pages.list_pages(session, auth, page)
    return Page[LandingPageRead](
        items=[LandingPageRead.model_validate(p) for p in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201, responses={422: {"model": ErrorResponse}})
async def create_page(
    body: LandingPageCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> LandingPageRead:
    """Create a page; its HTML is sanitized (no scripts or event handlers)."""
    return LandingPageRead.model_validate(
        await landing_pages.create_page(session, auth, body, meta=meta)
    )


@router.post("/import", status_code=201, responses={400: {"model": ErrorResponse}})
async def import_page(
    body: LandingPageImport, auth: Manage, session: SessionDep, meta: MetaDep
) -> LandingPageRead:
    """Copy a web page as a landing page: fetched server-side with SSRF guards, then
    sanitized; its forms will post back to Vigil."""
    return LandingPageRead.model_validate(
        await landing_pages.import_page(session, auth, body, meta=meta)
    )


@router.get("/{page_id}", responses=_404)
async def get_page(page_id: uuid.UUID, auth: Manage, session: SessionDep) -> LandingPageRead:
    """One landing page."""
    return LandingPageRead.model_validate(await landing_pages.get_page(session, auth, page_id))


@router.patch("/{page_id}", responses=_404)
async def update_page(
    page_id: uuid.UUID,
    body: LandingPageUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> LandingPageRead:
    """Change a page (its HTML is sanitized again)."""
    page = await landing_pages.update_page(session, auth, page_id, body, meta=meta)
    return LandingPageRead.model_validate(page)


@router.delete("/{page_id}", status_code=204, responses=_404)
async def delete_page(page_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep) -> None:
    """Delete a page."""
    await landing_pages.delete_page(session, auth, page_id, meta=meta)
