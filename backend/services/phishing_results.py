"""Campaign results: stats, each recipient's status, the event timeline, the CSV export.

The figures come from the recipients' first-time columns (`opened_at`, `clicked_at`,
`submitted_at`, `reported_at`, set once and only by events not suspected automated), so
repeats and scanners never inflate them; the suspected automation is counted apart from
the events. The counts are one aggregate query (`count(*) FILTER (…)`); each median is the
middle row or two, read in order (from an index on PostgreSQL). Formulas:
`backend/README.md`, "Campaign results".

A manager sees the results of the people in the groups they manage (as those groups stand
now), an admin everyone's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, bind_tenant, get_scoped
from db.session import unit_of_work
from models.phishing_campaign import CampaignRecipient, PhishingCampaign, SendStatus
from models.phishing_event import EventType, PhishingEvent
from models.user import Role, User
from schemas.phishing_results import (
    Automation,
    AutomationReason,
    CampaignStats,
    EventRead,
    Rates,
    RecipientResult,
    ResultStatus,
    SendErrors,
)
from services.groups import managed_people_filter
from services.phishing_campaigns import CampaignNotFound

R = CampaignRecipient
E = PhishingEvent
EXPORT_PAGE = 1000
MAX_REASONS = 20
UNFINISHED = (SendStatus.pending, SendStatus.claimed, SendStatus.handover)

_acted = or_(
    R.opened_at.is_not(None),
    R.clicked_at.is_not(None),
    R.submitted_at.is_not(None),
    R.reported_at.is_not(None),
)
# An "unknown" send (connection lost after the data went out) that someone then acted on
# evidently arrived: it counts as delivered.
DELIVERED = or_(R.send_status == SendStatus.sent, and_(R.send_status == SendStatus.unknown, _acted))
OPENED = or_(R.opened_at.is_not(None), R.clicked_at.is_not(None), R.submitted_at.is_not(None))
CLICKED = or_(R.clicked_at.is_not(None), R.submitted_at.is_not(None))

status_column: ColumnElement[str] = case(
    (R.reported_at.is_not(None), literal(ResultStatus.reported.value)),
    (R.submitted_at.is_not(None), literal(ResultStatus.submitted.value)),
    (R.clicked_at.is_not(None), literal(ResultStatus.clicked.value)),
    (R.opened_at.is_not(None), literal(ResultStatus.opened.value)),
    (R.send_status == SendStatus.sent, literal(ResultStatus.sent.value)),
    (R.send_status == SendStatus.failed, literal(ResultStatus.failed.value)),
    (R.send_status == SendStatus.unknown, literal(ResultStatus.unknown.value)),
    (R.send_status == SendStatus.cancelled, literal(ResultStatus.cancelled.value)),
    else_=literal(ResultStatus.scheduled.value),
)


@dataclass(frozen=True, slots=True)
class ResultFilters:
    status: ResultStatus | None = None
    department: str | None = None
    automated: bool | None = None


@dataclass(frozen=True, slots=True)
class _Scope:
    campaign: PhishingCampaign
    people: ColumnElement[bool] | None  # None: everyone (admins)

    def recipients(self) -> list[ColumnElement[bool]]:
        where = [R.company_id == self.campaign.company_id, R.campaign_id == self.campaign.id]
        if self.people is not None:
            where.append(self.people)
        return where

    def events(self) -> list[ColumnElement[bool]]:
        where = [E.company_id == self.campaign.company_id, E.campaign_id == self.campaign.id]
        if self.people is not None:
            where.append(E.recipient_id.in_(select(R.id).where(*self.recipients())))
        return where


async def _scope(session: AsyncSession, auth: AuthContext, campaign_id: uuid.UUID) -> _Scope:
    campaign = await get_scoped(
        session, PhishingCampaign, campaign_id, auth, error=CampaignNotFound
    )
    if auth.role is not Role.manager:
        return _Scope(campaign, None)
    managed = await managed_people_filter(session, auth)
    people = R.user_id.in_(select(User.id).where(User.company_id == auth.company_id, managed))
    return _Scope(campaign, people)


# --- stats ---


def _seconds(later: Any, earlier: Any, postgres: bool) -> ColumnElement[Any]:
    if postgres:
        # Spelled as in the median indexes (`models.phishing_campaign`), 'epoch' included,
        # so PostgreSQL reads the middle from them; double precision, not extract()'s numeric.
        return func.date_part(literal_column("'epoch'"), later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


async def campaign_stats(
    session: AsyncSession, auth: AuthContext, campaign_id: uuid.UUID
) -> CampaignStats:
    scope = await _scope(session, auth, campaign_id)
    postgres = session.get_bind().dialect.name == "postgresql"
    to_click = _seconds(R.clicked_at, R.sent_at, postgres)
    to_report = _seconds(R.reported_at, R.sent_at, postgres)
    columns: list[Any] = [
        func.count().label("recipients"),
        _count(R.send_status.in_(UNFINISHED)).label("scheduled"),
        _count(R.send_status == SendStatus.cancelled).label("cancelled"),
        _count(R.send_status == SendStatus.sent).label("sent"),
        _count(R.send_status == SendStatus.failed).label("failed"),
        _count(R.send_status == SendStatus.unknown).label("unknown"),
        _count(DELIVERED).label("delivered"),
        _count(OPENED).label("opened"),
        _count(CLICKED).label("clicked"),
        _count(R.submitted_at.is_not(None)).label("submitted"),
        _count(R.reported_at.is_not(None)).label("reported"),
    ]
    # The medians are read apart, in index order (`_median`): inside this query, a
    # percentile would sort the whole campaign and keep PostgreSQL from scanning in parallel.
    columns += [
        _count(and_(R.clicked_at.is_not(None), R.sent_at.is_not(None))).label("n_click"),
        _count(and_(R.reported_at.is_not(None), R.sent_at.is_not(None))).label("n_report"),
    ]
    row = (await session.execute(select(*columns).where(*scope.recipients()))).one()
    to_click_s = await _median(session, scope, to_click, R.clicked_at, row.n_click)
    to_report_s = await _median(session, scope, to_report, R.reported_at, row.n_report)
    return CampaignStats(
        campaign_id=scope.campaign.id,
        scope="company" if scope.people is None else "managed_groups",
        recipients=row.recipients,
        scheduled=row.scheduled,
        cancelled=row.cancelled,
        sent=row.sent,
        delivered=row.delivered,
        opened=row.opened,
        clicked=row.clicked,
        submitted=row.submitted,
        reported=row.reported,
        errors=SendErrors(total=row.failed + row.unknown, failed=row.failed, unknown=row.unknown),
        automation=await _automation(session, scope, postgres),
        rates=_rates(row.delivered, row.clicked, row.submitted, row.reported),
        median_seconds_to_click=_round(to_click_s),
        median_seconds_to_report=_round(to_report_s),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _rates(delivered: int, clicked: int, submitted: int, reported: int) -> Rates:
    def rate(n: int) -> float | None:
        return round(n / delivered, 4) if delivered else None

    # Every recipient who submitted also reached the page, so `clicked` already holds
    # everyone who clicked or submitted: phish-prone and click rate agree by definition.
    return Rates(
        click_rate=rate(clicked),
        submit_rate=rate(submitted),
        report_rate=rate(reported),
        phish_prone=rate(clicked),
    )


async def _median(
    session: AsyncSession, scope: _Scope, seconds: ColumnElement[Any], at: Any, n: int
) -> float | None:
    """The one or two middle values of `n`, read in order (on PostgreSQL from the median
    indexes: a few thousand index entries, not a sort of the campaign)."""
    if not n:
        return None
    stmt = (
        select(seconds)
        .where(*scope.recipients(), at.is_not(None), R.sent_at.is_not(None))
        .order_by(seconds)
        .offset((n - 1) // 2)
        .limit(2 - n % 2)
    )
    middle = [float(v) for v in (await session.scalars(stmt)).all()]
    return sum(middle) / len(middle)


async def _automation(session: AsyncSession, scope: _Scope, postgres: bool) -> Automation:
    flagged = [*scope.events(), E.automated]
    counts = (func.count(), func.count(func.distinct(E.recipient_id)))
    total: tuple[int, int]
    reasons: list[tuple[str | None, int, int]]
    if postgres:
        # The total and each reason in one pass over the index (GROUPING SETS); the total
        # is the row whose reason is grouped away. Reasons are few (see services.tracking).
        rows = (
            await session.execute(
                select(E.automation_reason, func.grouping(E.automation_reason), *counts)
                .where(*flagged)
                .group_by(func.grouping_sets(E.automation_reason, tuple_()))
            )
        ).all()
        total = next(((n, r) for _, grouped, n, r in rows if grouped), (0, 0))
        reasons = sorted(
            ((reason, n, r) for reason, grouped, n, r in rows if not grouped),
            key=lambda row: -row[1],
        )[:MAX_REASONS]
    else:
        events, recipients = (await session.execute(select(*counts).where(*flagged))).one()
        total = (events, recipients)
        reasons = [
            (reason, n, r)
            for reason, n, r in await session.execute(
                select(E.automation_reason, *counts)
                .where(*flagged)
                .group_by(E.automation_reason)
                .order_by(func.count().desc())
                .limit(MAX_REASONS)
            )
        ]
    return Automation(
        events=total[0],
        recipients=total[1],
        reasons=[
            AutomationReason(reason=reason, events=events, recipients=recipients)
            for reason, events, recipients in reasons
        ],
    )


# --- per recipient ---


def _filtered(scope: _Scope, filters: ResultFilters) -> Select[Any]:
    stmt = select(R).where(*scope.recipients())
    if filters.status is not None:
        stmt = stmt.where(status_column == filters.status.value)
    if filters.department is not None:
        stmt = stmt.where(R.department == filters.department)
    if filters.automated is not None:
        flagged = select(E.id).where(
            E.company_id == scope.campaign.company_id,
            E.recipient_id == R.id,
            E.automated,
        )
        stmt = stmt.where(flagged.exists() if filters.automated else ~flagged.exists())
    return stmt


async def _automated_counts(
    session: AsyncSession, company_id: uuid.UUID, recipient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not recipient_ids:
        return {}
    rows = await session.execute(
        select(E.recipient_id, func.count())
        .where(E.company_id == company_id, E.recipient_id.in_(recipient_ids), E.automated)
        .group_by(E.recipient_id)
    )
    return dict(rows.all())


def status_of(recipient: CampaignRecipient) -> ResultStatus:
    for status in ("reported", "submitted", "clicked", "opened"):
        if getattr(recipient, f"{status}_at") is not None:
            return ResultStatus(status)
    if recipient.send_status in UNFINISHED:
        return ResultStatus.scheduled
    return ResultStatus(recipient.send_status.value)


_RECIPIENT_FIELDS = tuple(
    name for name in RecipientResult.model_fields if name not in ("status", "automated_events")
)


def _result(recipient: CampaignRecipient, automated: dict[uuid.UUID, int]) -> RecipientResult:
    result = RecipientResult.model_validate(
        {
            **{k: getattr(recipient, k) for k in _RECIPIENT_FIELDS},
            "status": status_of(recipient),
            "automated_events": automated.get(recipient.id, 0),
        }
    )
    return result


async def list_results(
    session: AsyncSession,
    auth: AuthContext,
    campaign_id: uuid.UUID,
    page: PageParams,
    *,
    filters: ResultFilters,
) -> PageResult[RecipientResult]:
    scope = await _scope(session, auth, campaign_id)
    found = await paginate(session, _filtered(scope, filters), page, order_by=(R.id,))
    automated = await _automated_counts(
        session, scope.campaign.company_id, [r.id for r in found.items]
    )
    return PageResult(
        items=[_result(r, automated) for r in found.items], next_cursor=found.next_cursor
    )


async def check_campaign(session: AsyncSession, auth: AuthContext, campaign_id: uuid.UUID) -> None:
    """404 before a streamed export starts (its body cannot turn into an error)."""
    await _scope(session, auth, campaign_id)


async def export_results(
    auth: AuthContext, campaign_id: uuid.UUID, *, filters: ResultFilters
) -> AsyncIterator[list[RecipientResult]]:
    """Every recipient's result in pages of `EXPORT_PAGE`, in a session of its own (the
    request's has committed by the time a streamed body is read); memory stays flat."""
    async with unit_of_work() as session:
        await bind_tenant(session, auth.company_id)
        scope = await _scope(session, auth, campaign_id)
        stmt = _filtered(scope, filters).order_by(R.id).limit(EXPORT_PAGE)
        after: uuid.UUID | None = None
        while True:
            paged = stmt if after is None else stmt.where(R.id > after)
            rows = list((await session.scalars(paged)).all())
            if not rows:
                return
            automated = await _automated_counts(
                session, scope.campaign.company_id, [r.id for r in rows]
            )
            yield [_result(r, automated) for r in rows]
            session.expunge_all()
            if len(rows) < EXPORT_PAGE:
                return
            after = rows[-1].id


# --- timeline ---


async def list_events(
    session: AsyncSession,
    auth: AuthContext,
    campaign_id: uuid.UUID,
    page: PageParams,
    *,
    type: EventType | None = None,
    recipient_id: uuid.UUID | None = None,
    automated: bool | None = None,
) -> PageResult[EventRead]:
    """The campaign's events, newest first, repeats and suspected automation included."""
    scope = await _scope(session, auth, campaign_id)
    stmt = select(E).where(*scope.events())
    if type is not None:
        stmt = stmt.where(E.type == type)
    if recipient_id is not None:
        stmt = stmt.where(E.recipient_id == recipient_id)
    if automated is not None:
        stmt = stmt.where(E.automated.is_(automated))
    found = await paginate(session, stmt, page, order_by=(E.id,))
    ids = {e.recipient_id for e in found.items}
    emails: dict[uuid.UUID, str] = {}
    if ids:
        rows = await session.execute(
            select(R.id, R.email).where(R.company_id == scope.campaign.company_id, R.id.in_(ids))
        )
        emails = dict(rows.all())
    items = []
    for event in found.items:
        item = EventRead.model_validate(event)
        item.email = emails.get(event.recipient_id)
        items.append(item)
    return PageResult(items=items, next_cursor=found.next_cursor)
