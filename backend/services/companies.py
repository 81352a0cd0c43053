"""Companies: a company's own settings, and the platform admin's view of all of them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import NotFound
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, bind_tenant
from models.company import Company, CompanyStatus
from schemas.company import CompanyUpdate
from services import audit
from services.principals import forget_company
from services.teachable_moment import check_teachable_moment


class CompanyNotFound(NotFound):
    code = "company_not_found"
    message = "No such company."


async def get_own(session: AsyncSession, auth: AuthContext) -> Company:
    company = await session.get(Company, auth.company_id)
    if company is None or company.deleted_at is not None:
        raise CompanyNotFound()
    return company


def _json_safe(value: Any) -> Any:
    return value if isinstance(value, list | bool | int | float | type(None)) else str(value)


async def update_own(
    session: AsyncSession, auth: AuthContext, data: CompanyUpdate, *, meta: RequestMeta
) -> Company:
    company = await get_own(session, auth)
    changes: dict[str, Any] = {}
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "teachable_moment_html":
            if value is not None:
                check_teachable_moment(value)
            if company.teachable_moment_html != value:
                changes[field] = [
                    "default" if company.teachable_moment_html is None else "custom",
                    "default" if value is None else "custom",
                ]
                company.teachable_moment_html = value
            continue
        if value is None:
            continue  # every company setting is required; null means "leave as is"
        old = getattr(company, field)
        if old != value:
            changes[field] = [_json_safe(old), _json_safe(value)]
            setattr(company, field, value)
    if changes:
        # Flush now so the response carries the new `updated_at` (set by the UPDATE).
        await session.flush()
        await audit.record(
            session,
            "company.settings_changed",
            auth=auth,
            target=("company", company.id),
            meta=meta,
            changes=changes,
        )
    return company


async def list_companies(
    session: AsyncSession,
    auth: AuthContext,  # noqa: ARG001 - uniform service signature; the route checks the role
    page: PageParams,
    *,
    status: CompanyStatus | None,
) -> PageResult[Company]:
    """Platform admin only (checked by the route): every customer company."""
    stmt: Select[Any] = select(Company).where(Company.is_platform.is_(False))
    if status:
        stmt = stmt.where(Company.status == status)
    return await paginate(session, stmt, page, order_by=(Company.id,))


async def set_status(
    session: AsyncSession,
    auth: AuthContext,
    company_id: uuid.UUID,
    status: CompanyStatus,
    *,
    meta: RequestMeta,
) -> Company:
    company = await session.get(Company, company_id)
    if company is None or company.deleted_at is not None or company.is_platform:
        raise CompanyNotFound()
    if company.status is not status:
        # From here on this transaction acts as that company: row-level security lets it
        # see the company's people (to forget their cached principals) and write the audit
        # entry into the company's own log, attributed to the operator.
        await bind_tenant(session, company.id)
        await forget_company(session, company.id)
        old = company.status
        company.status = status
        await session.flush()  # the response then carries the new `updated_at`
        await audit.record(
            session,
            f"company.{'suspended' if status is CompanyStatus.suspended else 'reactivated'}",
            auth=auth,
            company_id=company.id,
            target=("company", company.id),
            meta=meta,
            changes={"status": [str(old), str(status)]},
        )
    return company


async def delete_company(
    session: AsyncSession, auth: AuthContext, company_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    """Platform admin: close a customer's account. The rows stay (soft delete) for the
    records; its people can no longer sign in and its keys stop working at once."""
    company = await session.get(Company, company_id)
    if company is None or company.deleted_at is not None or company.is_platform:
        raise CompanyNotFound()
    await bind_tenant(session, company.id)
    await forget_company(session, company.id)
    company.soft_delete()
    await audit.record(
        session,
        "company.deleted",
        auth=auth,
        company_id=company.id,
        target=("company", company.id),
        meta=meta,
    )
