"""Phishing email templates: the company's own, the platform catalog, .eml import."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from schemas.base import ErrorResponse, Page
from schemas.email_template import (
    CatalogTemplateRead,
    EmailTemplateCreate,
    EmailTemplateRead,
    EmailTemplateUpdate,
    TemplatePreview,
)
from services import email_templates
from services.phishing_catalog import CATALOG

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/templates", tags=["phishing"]
)

Manage = Annotated[AuthContext, Depends(require(Permission.phishing_manage))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}
_422: dict[int | str, dict[str, Any]] = {422: {"model": ErrorResponse}}


@router.get("/platform")
async def list_platform_templates(_: Manage) -> list[CatalogTemplateRead]:
    """Lures shipped with Vigil; copy one to adapt it."""
    return [
        CatalogTemplateRead(
            slug=t.slug,
            name=t.name,
            subject=t.subject,
            html=t.html,
            text=t.text,
            difficulty=t.difficulty,
            language=t.language,
            red_flags=t.red_flags,
        )
        for t in CATALOG
    ]


@router.post("/platform/{slug}/copy", status_code=201, responses=_404)
async def copy_platform_template(
    slug: str, auth: Manage, session: SessionDep, meta: MetaDep
) -> EmailTemplateRead:
    """Copy a platform lure into the company's own templates."""
    template = await email_templates.copy_from_catalog(session, auth, slug, meta=meta)
    return EmailTemplateRead.model_validate(template)


@router.post("/import", status_code=201, responses={400: {"model": ErrorResponse}, **_422})
async def import_template(
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
    file: Annotated[UploadFile, File(description="A raw email message (.eml)")],
    rewrite_links: Annotated[bool, Form()] = True,
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> EmailTemplateRead:
    """Create a template from a real message: subject, text and HTML; links can be
    rewritten to the recipient's tracked link."""
    template = await email_templates.import_eml(
        session, auth, await file.read(), rewrite_links=rewrite_links, name=name, meta=meta
    )
    return EmailTemplateRead.model_validate(template)


@router.get("")
async def list_templates(
    auth: Manage, session: SessionDep, page: PageDep
) -> Page[EmailTemplateRead]:
    """The company's own templates."""
    result = await email_templates.list_templates(session, auth, page)
    return Page[EmailTemplateRead](
        items=[EmailTemplateRead.model_validate(t) for t in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201, responses=_422)
async def create_template(
    body: EmailTemplateCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> EmailTemplateRead:
    """Create a template; it must render in the sandbox with sample values."""
    template = await email_templates.create_template(session, auth, body, meta=meta)
    return EmailTemplateRead.model_validate(template)


@router.get("/{template_id}", responses=_404)
async def get_template(
    template_id: uuid.UUID, auth: Manage, session: SessionDep
) -> EmailTemplateRead:
    """One template."""
    return EmailTemplateRead.model_validate(
        await email_templates.get_template(session, auth, template_id)
    )


@router.patch("/{template_id}", responses={**_404, **_422})
async def update_template(
    template_id: uuid.UUID,
    body: EmailTemplateUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> EmailTemplateRead:
    """Change a template; the result must still render."""
    template = await email_templates.update_template(session, auth, template_id, body, meta=meta)
    return EmailTemplateRead.model_validate(template)


@router.delete("/{template_id}", status_code=204, responses=_404)
async def delete_template(
    template_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> None:
    """Delete a template."""
    await email_templates.delete_template(session, auth, template_id, meta=meta)


@router.post("/{template_id}/preview", responses=_404)
async def preview_template(
    template_id: uuid.UUID, auth: Manage, session: SessionDep
) -> TemplatePreview:
    """Render with sample recipient values."""
    rendered = await email_templates.preview(session, auth, template_id)
    return TemplatePreview(subject=rendered.subject, html=rendered.html, text=rendered.text)
