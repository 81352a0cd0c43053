"""Phishing email templates: a company's own, the platform catalog, and .eml import."""

from __future__ import annotations

import re
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import BadRequest, NotFound
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.email_template import EmailTemplate
from schemas.email_template import EmailTemplateCreate, EmailTemplateUpdate
from services import audit
from services.phishing_catalog import BY_SLUG
from services.phishing_render import Rendered, escape_jinja, validate

_HREF = re.compile(r"""(?i)(\bhref\s*=\s*)(["'])(.*?)\2""")
_URL = re.compile(r"""https?://[^\s<>"']+""")


class TemplateNotFound(NotFound):
    code = "template_not_found"
    message = "No such template."


class InvalidEml(BadRequest):
    code = "invalid_eml"
    message = "The file is not an email message (.eml) with a text or HTML body."


async def get_template(
    session: AsyncSession, auth: AuthContext, template_id: uuid.UUID
) -> EmailTemplate:
    return await get_scoped(session, EmailTemplate, template_id, auth, error=TemplateNotFound)


async def list_templates(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[EmailTemplate]:
    stmt = scoped_select(EmailTemplate, auth)
    return await paginate(session, stmt, page, order_by=(EmailTemplate.id,))


async def create_template(
    session: AsyncSession, auth: AuthContext, data: EmailTemplateCreate, *, meta: RequestMeta
) -> EmailTemplate:
    validate(data.subject, data.html, data.text)
    template = EmailTemplate(company_id=auth.company_id, **data.model_dump())
    session.add(template)
    await session.flush()
    await audit.record(
        session,
        "email_template.created",
        auth=auth,
        target=("email_template", template.id),
        meta=meta,
        changes={"name": template.name},
    )
    return template


async def update_template(
    session: AsyncSession,
    auth: AuthContext,
    template_id: uuid.UUID,
    data: EmailTemplateUpdate,
    *,
    meta: RequestMeta,
) -> EmailTemplate:
    template = await get_template(session, auth, template_id)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "subject", "difficulty", "language", "red_flags"):
        if required in changes and changes[required] is None:
            del changes[required]  # required fields: null means "leave as is"
    merged = {
        "subject": changes.get("subject", template.subject),
        "html": changes.get("html", template.html),
        "text": changes.get("text", template.text),
    }
    validate(merged["subject"], merged["html"], merged["text"])
    for field, value in changes.items():
        setattr(template, field, value)
    await session.flush()
    await audit.record(
        session,
        "email_template.updated",
        auth=auth,
        target=("email_template", template.id),
        meta=meta,
        changes={"fields": sorted(changes)},
    )
    return template


async def delete_template(
    session: AsyncSession, auth: AuthContext, template_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    template = await get_template(session, auth, template_id)
    template.soft_delete()
    await audit.record(
        session,
        "email_template.deleted",
        auth=auth,
        target=("email_template", template.id),
        meta=meta,
    )


async def preview(session: AsyncSession, auth: AuthContext, template_id: uuid.UUID) -> Rendered:
    template = await get_template(session, auth, template_id)
    return validate(template.subject, template.html, template.text)


async def copy_from_catalog(
    session: AsyncSession, auth: AuthContext, slug: str, *, meta: RequestMeta
) -> EmailTemplate:
    source = BY_SLUG.get(slug)
    if source is None:
        raise TemplateNotFound("No such platform template.")
    data = EmailTemplateCreate(
        name=source.name,
        subject=source.subject,
        html=source.html,
        text=source.text,
        difficulty=source.difficulty,
        language=source.language,
        red_flags=source.red_flags,
    )
    return await create_template(session, auth, data, meta=meta)


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    html = html_part.get_content() if html_part is not None else None
    text = text_part.get_content() if text_part is not None else None
    return html, text


def parse_eml(data: bytes, *, rewrite_links: bool) -> EmailTemplateCreate:
    """Subject and bodies of a raw message, made safe to use as a template; with
    `rewrite_links`, every link points at the recipient's tracked `{{ url }}`."""
    try:
        message = message_from_bytes(data, policy=policy.default)
        html, text = _bodies(message)
    except (ValueError, LookupError, AttributeError) as exc:
        raise InvalidEml() from exc
    subject = str(message.get("Subject") or "").strip()
    if not subject or not (html or text):
        raise InvalidEml()
    subject = escape_jinja(subject)
    html = escape_jinja(html) if html else None
    text = escape_jinja(text) if text else None
    if rewrite_links:
        if html:
            html = _HREF.sub(lambda m: f"{m.group(1)}{m.group(2)}{{{{ url }}}}{m.group(2)}", html)
        if text:
            text = _URL.sub("{{ url }}", text)
    return EmailTemplateCreate(name=subject[:200], subject=subject[:500], html=html, text=text)


async def import_eml(
    session: AsyncSession,
    auth: AuthContext,
    data: bytes,
    *,
    rewrite_links: bool,
    name: str | None,
    meta: RequestMeta,
) -> EmailTemplate:
    parsed = parse_eml(data, rewrite_links=rewrite_links)
    if name:
        parsed.name = name[:200]
    return await create_template(session, auth, parsed, meta=meta)
