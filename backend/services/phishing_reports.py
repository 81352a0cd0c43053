"""Reported emails: the report button's endpoint, and the security team's list.

A report whose message carries our identifying header (`settings.phishing_report_header`)
with the token of a recipient *of the caller's company* is that recipient reporting our
simulation: a `reported` tracking event (first time counted once, like every event). Any
other message — including one carrying another company's token, which we treat exactly
like a message with no token so as not to reveal that it exists — is stored as a real
suspected phish: parsed headers, links and attachment hashes, the raw message, a status
for triage. The reporter is thanked by email and `report.received` is emitted.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.exceptions import NotFound
from db.pagination import PageParams, PageResult, decode_cursor, encode_cursor
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.base import utcnow
from models.phishing_campaign import CampaignRecipient
from models.phishing_event import EventType, PhishingEvent
from models.phishing_report import ReportedEmail, ReportStatus
from models.user import User, UserStatus
from schemas.phishing_report import ReportKind, ReportSummary, ReportUpdate
from services import audit, phishing_events, webhooks
from services.email import send_after_commit
from services.phishing_events import Hit, Target
from services.reported_message import ParsedMessage, parse_message

_ORDER = "id"
# Our header appears once; a message carrying many is not worth many lookups.
MAX_TOKENS = 3


class ReportNotFound(NotFound):
    code = "report_not_found"
    message = "No such reported email."


async def submit_report(
    session: AsyncSession,
    auth: AuthContext,
    raw: bytes,
    *,
    headers_only: bool = False,
    reporter: str | None = None,
    meta: RequestMeta,
) -> bool:
    """Record a reported message; True when it was one of our simulations."""
    parsed = parse_message(raw, header_name=settings.phishing_report_header)
    target = await _simulation_target(session, auth, parsed.tokens)
    if target is not None:
        # Like the tracking links, a finished or cancelled campaign records nothing more;
        # the reporter is still told it was a simulation.
        if target.trackable:
            hit = Hit(
                target=target,
                type=EventType.reported,
                at=utcnow(),
                ip=meta.ip,
                user_agent=meta.user_agent,
                details={"via": "api_key" if auth.is_api_key else "report_button"},
            )
            await phishing_events.record(session, [hit])
        return True
    report = await _store(session, auth, parsed, raw, headers_only=headers_only, reporter=reporter)
    await _acknowledge(session, report)
    return False


async def _simulation_target(
    session: AsyncSession, auth: AuthContext, tokens: list[str]
) -> Target | None:
    """The recipient behind our header, if it is one of the caller's company. Another
    company's token is treated like no token at all: its existence is not revealed."""
    for token in tokens[:MAX_TOKENS]:
        target = await phishing_events.find_target(session, token)
        if target is not None and target.company_id == auth.company_id:
            return target
    return None


async def _reporter(
    session: AsyncSession, auth: AuthContext, named: str | None
) -> tuple[uuid.UUID | None, str | None]:
    """A signed-in user reports as themselves; an API key may name an employee, who is
    thanked only if they are an active user of the company."""
    if auth.user_id is not None:
        return auth.user_id, auth.email
    if not named:
        return None, None
    user = await session.scalar(
        scoped_select(User, auth).where(
            func.lower(User.email) == named.strip().lower(), User.status == UserStatus.active
        )
    )
    return (user.id, user.email) if user is not None else (None, named.strip()[:320])


async def _store(
    session: AsyncSession,
    auth: AuthContext,
    parsed: ParsedMessage,
    raw: bytes,
    *,
    headers_only: bool,
    reporter: str | None,
) -> ReportedEmail:
    user_id, email = await _reporter(session, auth, reporter)
    report = ReportedEmail(
        company_id=auth.company_id,
        reporter_user_id=user_id,
        reporter_email=email,
        api_key_id=auth.api_key_id,
        from_address=parsed.from_address,
        reply_to=parsed.reply_to,
        return_path=parsed.return_path,
        subject=parsed.subject,
        sent_at=parsed.sent_at,
        message_id=parsed.message_id,
        urls=parsed.urls,
        attachments=parsed.attachments,
        raw=raw,
        raw_size=len(raw),
        headers_only=headers_only,
        status=ReportStatus.new,
    )
    session.add(report)
    await session.flush()
    return report


async def _acknowledge(session: AsyncSession, report: ReportedEmail) -> None:
    await webhooks.emit(
        session,
        report.company_id,
        "report.received",
        {
            "report_id": report.id,
            "reporter_email": report.reporter_email,
            "from": report.from_address,
            "subject": report.subject,
            "urls": len(report.urls),
            "attachments": len(report.attachments),
        },
        event_id=report.id,
    )
    if report.reporter_user_id is not None and report.reporter_email:
        send_after_commit(
            session,
            report.reporter_email,
            "report_thanks",
            {"reported_subject": report.subject or "(no subject)"},
        )


# --- the security team's side ---


async def get_report(
    session: AsyncSession, auth: AuthContext, report_id: uuid.UUID
) -> ReportedEmail:
    return await get_scoped(session, ReportedEmail, report_id, auth, error=ReportNotFound)


async def update_report(
    session: AsyncSession,
    auth: AuthContext,
    report_id: uuid.UUID,
    data: ReportUpdate,
    *,
    meta: RequestMeta,
) -> ReportedEmail:
    report = await get_report(session, auth, report_id)
    changes: dict[str, Any] = {}
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None and name == "status":
            continue
        if getattr(report, name) != value:
            changes[name] = {"from": getattr(report, name), "to": value}
            setattr(report, name, value)
    if changes:
        await session.flush()
        await audit.record(
            session,
            "phishing_report.updated",
            auth=auth,
            target=("reported_email", report.id),
            meta=meta,
            changes={k: v for k, v in changes.items() if k == "status"},
        )
    return report


async def list_reports(
    session: AsyncSession,
    auth: AuthContext,
    page: PageParams,
    *,
    kind: ReportKind | None = None,
    status: ReportStatus | None = None,
) -> PageResult[ReportSummary]:
    """Real and simulated reports, newest first, in one keyset order: both are ordered by
    their UUIDv7 id (time of creation), so one page merges the next rows of each."""
    after = decode_cursor(page.cursor, _ORDER, 1)[0] if page.cursor else None
    items: list[ReportSummary] = []
    if kind != "simulated":
        items += await _real(session, auth, page.limit + 1, after, status)
    if kind != "real" and status is None:
        items += await _simulated(session, auth, page.limit + 1, after)
    items.sort(key=lambda item: item.id, reverse=True)
    next_cursor = None
    if len(items) > page.limit:
        items = items[: page.limit]
        next_cursor = encode_cursor(_ORDER, (items[-1].id,))
    return PageResult(items=items, next_cursor=next_cursor)


async def _real(
    session: AsyncSession,
    auth: AuthContext,
    limit: int,
    after: uuid.UUID | None,
    status: ReportStatus | None,
) -> list[ReportSummary]:
    stmt = scoped_select(ReportedEmail, auth)
    if status is not None:
        stmt = stmt.where(ReportedEmail.status == status)
    if after is not None:
        stmt = stmt.where(ReportedEmail.id < after)
    rows = await session.scalars(stmt.order_by(ReportedEmail.id.desc()).limit(limit))
    return [
        ReportSummary(
            id=r.id,
            kind="real",
            reported_at=r.created_at,
            reporter_email=r.reporter_email,
            status=r.status,
            subject=r.subject,
            from_address=r.from_address,
        )
        for r in rows
    ]


async def _simulated(
    session: AsyncSession, auth: AuthContext, limit: int, after: uuid.UUID | None
) -> list[ReportSummary]:
    stmt = (
        select(PhishingEvent, CampaignRecipient.email)
        .join(CampaignRecipient, CampaignRecipient.id == PhishingEvent.recipient_id)
        .where(
            PhishingEvent.company_id == auth.company_id,
            CampaignRecipient.company_id == auth.company_id,
            PhishingEvent.type == EventType.reported,
        )
    )
    if after is not None:
        stmt = stmt.where(PhishingEvent.id < after)
    rows = await session.execute(stmt.order_by(PhishingEvent.id.desc()).limit(limit))
    return [
        ReportSummary(
            id=event.id,
            kind="simulated",
            reported_at=event.occurred_at,
            reporter_email=email,
            campaign_id=event.campaign_id,
            recipient_id=event.recipient_id,
            automated=event.automated,
        )
        for event, email in rows.all()
    ]
