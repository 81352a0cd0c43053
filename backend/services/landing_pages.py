"""Landing pages: sanitized HTML, and what a form submission may record."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import NotFound, ValidationFailed
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.landing_page import LandingPage
from schemas.landing_page import LandingPageCreate, LandingPageImport, LandingPageUpdate
from services import audit
from services.html_sanitizer import sanitize
from services.site_import import fetch_page


class LandingPageNotFound(NotFound):
    code = "landing_page_not_found"
    message = "No such landing page."


class EmptyPage(ValidationFailed):
    code = "landing_page_empty"
    message = "Nothing is left of this page once scripts and unsafe markup are removed."


def _clean(html: str) -> str:
    cleaned = sanitize(html)
    if not cleaned.strip():
        raise EmptyPage()
    return cleaned


async def get_page(session: AsyncSession, auth: AuthContext, page_id: uuid.UUID) -> LandingPage:
    return await get_scoped(session, LandingPage, page_id, auth, error=LandingPageNotFound)


async def list_pages(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[LandingPage]:
    return await paginate(
        session, scoped_select(LandingPage, auth), page, order_by=(LandingPage.id,)
    )


async def create_page(
    session: AsyncSession, auth: AuthContext, data: LandingPageCreate, *, meta: RequestMeta
) -> LandingPage:
    page = LandingPage(
        company_id=auth.company_id,
        name=data.name,
        html=_clean(data.html),
        capture_submissions=data.capture_submissions,
        capture_values=data.capture_values,
        redirect_url=str(data.redirect_url) if data.redirect_url else None,
    )
    session.add(page)
    await session.flush()
    await audit.record(
        session,
        "landing_page.created",
        auth=auth,
        target=("landing_page", page.id),
        meta=meta,
        changes={"name": page.name, "capture_values": page.capture_values},
    )
    return page


async def import_page(
    session: AsyncSession, auth: AuthContext, data: LandingPageImport, *, meta: RequestMeta
) -> LandingPage:
    """Fetch a site (see services.site_import for the SSRF guards) and keep a sanitized copy."""
    html = await fetch_page(str(data.url))
    page = await create_page(
        session,
        auth,
        LandingPageCreate(
            name=data.name or str(data.url)[:200],
            html=html[:1_000_000],
            capture_submissions=data.capture_submissions,
            capture_values=data.capture_values,
            redirect_url=data.redirect_url,
        ),
        meta=meta,
    )
    return page


async def update_page(
    session: AsyncSession,
    auth: AuthContext,
    page_id: uuid.UUID,
    data: LandingPageUpdate,
    *,
    meta: RequestMeta,
) -> LandingPage:
    page = await get_page(session, auth, page_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("html") is not None:
        page.html = _clean(changes["html"])
    for field in ("name", "capture_submissions", "capture_values"):
        if changes.get(field) is not None:
            setattr(page, field, changes[field])
    if "redirect_url" in changes:
        page.redirect_url = str(data.redirect_url) if data.redirect_url else None
    await session.flush()
    await audit.record(
        session,
        "landing_page.updated",
        auth=auth,
        target=("landing_page", page.id),
        meta=meta,
        changes={"fields": sorted(changes)},
    )
    return page


async def delete_page(
    session: AsyncSession, auth: AuthContext, page_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    page = await get_page(session, auth, page_id)
    page.soft_delete()
    await audit.record(
        session, "landing_page.deleted", auth=auth, target=("landing_page", page.id), meta=meta
    )


def recordable_submission(
    page: LandingPage, form: dict[str, str], password_fields: set[str]
) -> dict[str, object]:
    """What a submission may leave in our records: that it happened and which fields,
    values only when the company turned that on, and never a password's value."""
    if not page.capture_submissions:
        return {}
    record: dict[str, object] = {"fields": sorted(form)}
    if page.capture_values:
        record["values"] = {
            name: value
            for name, value in form.items()
            if name not in password_fields and "pass" not in name.lower()
        }
    return record
