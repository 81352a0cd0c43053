"""Reported emails: the report button posts here; the security team reads and triages."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from api.dependencies.auth import Auth, MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.config import settings
from core.exceptions import AppError, PayloadTooLarge, ValidationFailed
from core.permissions import Permission
from db.scoping import AuthContext
from models.phishing_report import ReportStatus
from schemas.base import ErrorResponse, Page
from schemas.phishing_report import (
    ReportedEmailRead,
    ReportKind,
    ReportOutcome,
    ReportSubmit,
    ReportSummary,
    ReportUpdate,
)
from services import phishing_reports

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/reports", tags=["phishing"]
)

Manage = Annotated[AuthContext, Depends(require(Permission.phishing_manage))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}
RAW_TYPES = ("message/rfc822", "text/plain")
_REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": ReportSubmit.model_json_schema()},
        },
    }
}


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    message = "Post the message as message/rfc822, text/plain or JSON ({raw} or {headers})."


class InvalidReportBody(ValidationFailed):
    code = "report_body_invalid"
    message = "The report body is not valid."


async def _read_capped(request: Request, cap: int) -> bytes:
    too_large = PayloadTooLarge(f"A reported message may be at most {cap} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap * 2:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        # JSON carries the message base64-encoded: a third larger, plus a little framing.
        if len(body) > cap * 2:
            raise too_large
    return bytes(body)


async def _report_body(request: Request, reporter: str | None) -> tuple[bytes, bool, str | None]:
    """The message (or header block) from any of the accepted forms, within the size cap."""
    cap = settings.phishing_report_max_bytes
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (*RAW_TYPES, "application/json"):
        raise UnsupportedMediaType()
    body = await _read_capped(request, cap)
    headers_only = False
    if media_type == "application/json":
        try:
            form = ReportSubmit.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            details = (
                exc.errors(include_url=False, include_context=False)
                if isinstance(exc, ValidationError)
                else None
            )
            raise InvalidReportBody(details=details) from exc
        if form.raw is not None:
            try:
                body = base64.b64decode(form.raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidReportBody("`raw` is not valid base64.") from exc
        else:
            body, headers_only = (form.headers or "").encode(), True
        reporter = form.reporter or reporter
    if len(body) > cap:
        raise PayloadTooLarge(f"A reported message may be at most {cap} bytes.")
    return body, headers_only, reporter


@router.post(
    "",
    openapi_extra=_REPORT_BODY,
    responses={
        413: {"model": ErrorResponse},
        415: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
async def report_email(
    request: Request,
    auth: Auth,
    session: SessionDep,
    meta: MetaDep,
    reporter: Annotated[
        str | None,
        Query(max_length=320, description="API keys: the employee who reported it."),
    ] = None,
) -> ReportOutcome:
    """Report a suspicious email (the report button). Any signed-in user, or a company API
    key naming the employee in `reporter`.

    Body: the message as `message/rfc822` or `text/plain`, or JSON `{"raw": "<base64>"}` /
    `{"headers": "<header block>"}`, at most `VIGIL_PHISHING_REPORT_MAX_BYTES`. One of our
    simulations (its identifying header holds a token of this company's recipient) is
    recorded as that recipient's report → `{"simulation": true}`. Anything else is kept
    for the security team, the reporter thanked by email → `{"simulation": false}`.
    Unreadable MIME → 422 `report_message_malformed`."""
    raw, headers_only, named = await _report_body(request, reporter)
    simulation = await phishing_reports.submit_report(
        session, auth, raw, headers_only=headers_only, reporter=named, meta=meta
    )
    return ReportOutcome(simulation=simulation)


@router.get("")
async def list_reports(
    auth: Manage,
    session: SessionDep,
    page: PageDep,
    kind: ReportKind | None = None,
    status: Annotated[
        ReportStatus | None, Query(description="Real reports in this triage state.")
    ] = None,
) -> Page[ReportSummary]:
    """Reported emails, newest first: real suspected phish and reported simulations
    (`kind`); `status` filters real reports."""
    result = await phishing_reports.list_reports(session, auth, page, kind=kind, status=status)
    return Page[ReportSummary](items=result.items, next_cursor=result.next_cursor)


@router.get("/{report_id}", responses=_404)
async def get_report(report_id: uuid.UUID, auth: Manage, session: SessionDep) -> ReportedEmailRead:
    """A real reported email: sender, subject, links, attachments (name, type, size,
    SHA-256), triage status."""
    report = await phishing_reports.get_report(session, auth, report_id)
    return ReportedEmailRead.model_validate(report)


@router.patch("/{report_id}", responses={**_404, 422: {"model": ErrorResponse}})
async def update_report(
    report_id: uuid.UUID,
    body: ReportUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> ReportedEmailRead:
    """Triage a real report: its `status` (new, triaged, malicious, spam, benign, closed)
    and `notes`."""
    report = await phishing_reports.update_report(session, auth, report_id, body, meta=meta)
    return ReportedEmailRead.model_validate(report)


@router.get(
    "/{report_id}/raw",
    responses={**_404, 200: {"content": {"message/rfc822": {}}}},
    response_class=Response,
)
async def download_report(report_id: uuid.UUID, auth: Manage, session: SessionDep) -> Response:
    """The reported message as it was posted, as an `.eml` download (never rendered)."""
    report = await phishing_reports.get_report(session, auth, report_id)
    return Response(
        content=report.raw,
        media_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="report-{report.id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )
