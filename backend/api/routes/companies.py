"""A company's own settings, and the platform admin's list of companies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.company import CompanyStatus
from schemas.base import ErrorResponse, Page
from schemas.company import CompanyRead, CompanyStatusUpdate, CompanyUpdate
from services import companies

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/companies", tags=["companies"]
)

ReadCompany = Annotated[AuthContext, Depends(require(Permission.company_read))]
WriteCompany = Annotated[AuthContext, Depends(require(Permission.company_write))]
Platform = Annotated[AuthContext, Depends(require(Permission.platform_companies))]


@router.get("/me")
async def get_my_company(auth: ReadCompany, session: SessionDep) -> CompanyRead:
    """My company's settings."""
    return CompanyRead.model_validate(await companies.get_own(session, auth))


@router.patch("/me")
async def update_my_company(
    body: CompanyUpdate, auth: WriteCompany, session: SessionDep, meta: MetaDep
) -> CompanyRead:
    """Change my company's settings (audited)."""
    return CompanyRead.model_validate(await companies.update_own(session, auth, body, meta=meta))


@router.get("")
async def list_companies(
    auth: Platform, session: SessionDep, page: PageDep, status: CompanyStatus | None = None
) -> Page[CompanyRead]:
    """Platform admin: every customer company."""
    result = await companies.list_companies(session, auth, page, status=status)
    return Page[CompanyRead](
        items=[CompanyRead.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.delete("/{company_id}", status_code=204, responses={404: {"model": ErrorResponse}})
async def delete_company(
    company_id: uuid.UUID, auth: Platform, session: SessionDep, meta: MetaDep
) -> None:
    """Platform admin: close a company (kept for the records; nobody in it can sign in)."""
    await companies.delete_company(session, auth, company_id, meta=meta)


@router.patch("/{company_id}", responses={404: {"model": ErrorResponse}})
async def set_company_status(
    company_id: uuid.UUID,
    body: CompanyStatusUpdate,
    auth: Platform,
    session: SessionDep,
    meta: MetaDep,
) -> CompanyRead:
    """Platform admin: suspend or reactivate a company (its users and keys stop working)."""
    company = await companies.set_status(session, auth, company_id, body.status, meta=meta)
    return CompanyRead.model_validate(company)
