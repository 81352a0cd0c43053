"""Who has done what: a campaign's enrollments and progress, one person's enrollments, the
reminders a campaign sent, and CSV exports of each.

Admins see the whole company; a manager sees only the people in the groups they manage
(`services.groups.managed_people_filter`) — anyone else's enrollments simply are not there,
and another person's per-user view answers 404.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload

from core.exceptions import NotFound
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, bind_tenant, get_scoped, scoped_select
from db.session import unit_of_work
from models.base import utcnow
from models.enrollment import Enrollment, EnrollmentState
from models.training_campaign import ReminderKind, ReminderStatus, TrainingReminder
from models.user import Role, User
from schemas.training_campaign import CampaignProgress, LearnerEnrollmentRead, StateCounts
from services.groups import managed_people_filter
from services.training_campaigns import get_campaign

OVERDUE_SHOWN = 100
EXPORT_BATCH = 2000
CSV_COLUMNS = (
    "enrollment_id",
    "user_id",
    "email",
    "name",
    "department",
    "course_id",
    "course_title",
    "training_campaign_id",
    "state",
    "percent",
    "time_spent_seconds",
    "enrolled_at",
    "due_at",
    "started_at",
    "completed_at",
)


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "No such user."


async def _people(session: AsyncSession, auth: AuthContext) -> ColumnElement[bool]:
    return await managed_people_filter(session, auth) if auth.role is Role.manager else true()


def _enrollments(auth: AuthContext, people: ColumnElement[bool]) -> Select[Any]:
    return (
        scoped_select(Enrollment, auth)
        .join(User, User.id == Enrollment.user_id)
        .where(people)
        .options(contains_eager(Enrollment.user), joinedload(Enrollment.course))
    )


def _state_filter(state: EnrollmentState, now: datetime) -> ColumnElement[bool]:
    late = Enrollment.due_at.is_not(None) & (Enrollment.due_at < now)
    unfinished = Enrollment.state != EnrollmentState.completed
    if state is EnrollmentState.overdue:
        return unfinished & late
    if state is EnrollmentState.completed:
        return Enrollment.state == state
    return (Enrollment.state == state) & ~late


def to_read(enrollment: Enrollment, now: datetime) -> LearnerEnrollmentRead:
    user = enrollment.user
    return LearnerEnrollmentRead(
        id=enrollment.id,
        user_id=user.id,
        email=user.email,
        name=user.full_name,
        department=user.department,
        course_id=enrollment.course_id,
        course_title=enrollment.course.title,
        training_campaign_id=enrollment.training_campaign_id,
        state=enrollment.effective_state(now),
        percent=enrollment.percent,
        time_spent_seconds=enrollment.time_spent_seconds,
        enrolled_at=enrollment.created_at,
        due_at=enrollment.due_at,
        started_at=enrollment.started_at,
        completed_at=enrollment.completed_at,
    )


# --- per campaign ------------------------------------------------------------------------


async def campaign_enrollments_query(
    session: AsyncSession,
    auth: AuthContext,
    campaign_id: uuid.UUID,
    *,
    state: EnrollmentState | None = None,
    course_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> Select[Any]:
    campaign = await get_campaign(session, auth, campaign_id)
    stmt = _enrollments(auth, await _people(session, auth)).where(
        Enrollment.training_campaign_id == campaign.id
    )
    if state is not None:
        stmt = stmt.where(_state_filter(state, utcnow()))
    if course_id is not None:
        stmt = stmt.where(Enrollment.course_id == course_id)
    if user_id is not None:
        stmt = stmt.where(Enrollment.user_id == user_id)
    return stmt


async def list_campaign_enrollments(
    session: AsyncSession,
    auth: AuthContext,
    campaign_id: uuid.UUID,
    page: PageParams,
    *,
    state: EnrollmentState | None = None,
    course_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> PageResult[Enrollment]:
    stmt = await campaign_enrollments_query(
        session, auth, campaign_id, state=state, course_id=course_id, user_id=user_id
    )
    return await paginate(session, stmt, page, order_by=(Enrollment.id,))


async def campaign_progress(
    session: AsyncSession, auth: AuthContext, campaign_id: uuid.UUID
) -> CampaignProgress:
    campaign = await get_campaign(session, auth, campaign_id)
    people = await _people(session, auth)
    now = utcnow()
    late = case(
        (
            (Enrollment.state != EnrollmentState.completed)
            & Enrollment.due_at.is_not(None)
            & (Enrollment.due_at < now),
            True,
        ),
        else_=False,
    )
    rows = await session.execute(
        select(Enrollment.state, late, func.count())
        .join(User, User.id == Enrollment.user_id)
        .where(
            Enrollment.company_id == auth.company_id,
            Enrollment.training_campaign_id == campaign.id,
            people,
        )
        .group_by(Enrollment.state, late)
    )
    counts = StateCounts()
    for state, is_late, count in rows.all():
        key = "overdue" if is_late else EnrollmentState(state).value
        setattr(counts, key, getattr(counts, key) + count)
    total = counts.not_started + counts.in_progress + counts.completed + counts.overdue
    overdue = await session.scalars(
        _enrollments(auth, people)
        .where(
            Enrollment.training_campaign_id == campaign.id,
            _state_filter(EnrollmentState.overdue, now),
        )
        .order_by(Enrollment.due_at, Enrollment.id)
        .limit(OVERDUE_SHOWN)
    )
    return CampaignProgress(
        campaign_id=campaign.id,
        total=total,
        counts=counts,
        completion_rate=round(counts.completed / total, 4) if total else 0.0,
        overdue=[to_read(e, now) for e in overdue.unique()],
        overdue_total=counts.overdue,
    )


async def list_reminders(
    session: AsyncSession,
    auth: AuthContext,
    campaign_id: uuid.UUID,
    page: PageParams,
    *,
    status: ReminderStatus | None = None,
    kind: ReminderKind | None = None,
) -> PageResult[TrainingReminder]:
    """The campaign's reminders (admins only: recipients are not filtered per manager)."""
    campaign = await get_campaign(session, auth, campaign_id)
    stmt = scoped_select(TrainingReminder, auth).where(TrainingReminder.campaign_id == campaign.id)
    if status is not None:
        stmt = stmt.where(TrainingReminder.status == status)
    if kind is not None:
        stmt = stmt.where(TrainingReminder.kind == kind)
    return await paginate(session, stmt, page, order_by=(TrainingReminder.id,))


# --- per user ----------------------------------------------------------------------------


async def user_enrollments_query(
    session: AsyncSession, auth: AuthContext, user_id: uuid.UUID
) -> Select[Any]:
    people = await _people(session, auth)
    user = await get_scoped(session, User, user_id, auth, error=UserNotFound)
    if auth.role is Role.manager:
        visible = await session.scalar(
            scoped_select(User, auth).with_only_columns(User.id).where(User.id == user.id, people)
        )
        if visible is None:
            raise UserNotFound()
    return _enrollments(auth, people).where(Enrollment.user_id == user.id)


async def list_user_enrollments(
    session: AsyncSession, auth: AuthContext, user_id: uuid.UUID, page: PageParams
) -> PageResult[Enrollment]:
    stmt = await user_enrollments_query(session, auth, user_id)
    return await paginate(session, stmt, page, order_by=(Enrollment.id,))


# --- CSV ---------------------------------------------------------------------------------


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    # Spreadsheet formula injection: a cell that starts with = + - @ is text, not a formula.
    safe = [f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in values]
    csv.writer(buffer).writerow(safe)
    return buffer.getvalue()


def _csv_values(e: LearnerEnrollmentRead) -> list[Any]:
    def iso(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    return [
        e.id,
        e.user_id,
        e.email,
        e.name,
        e.department or "",
        e.course_id,
        e.course_title,
        e.training_campaign_id or "",
        e.state.value,
        e.percent,
        e.time_spent_seconds,
        iso(e.enrolled_at),
        iso(e.due_at),
        iso(e.started_at),
        iso(e.completed_at),
    ]


async def export_csv(auth: AuthContext, stmt: Select[Any]) -> AsyncIterator[str]:
    """Stream `stmt`'s enrollments as CSV, a batch at a time, in a transaction of its own
    (the response outlives the request's session). Check access before streaming."""
    yield _csv_line(list(CSV_COLUMNS))
    async with unit_of_work() as session:
        await bind_tenant(session, auth.company_id)
        cursor: str | None = None
        while True:
            page = await paginate(
                session,
                stmt,
                PageParams(limit=EXPORT_BATCH, cursor=cursor),
                order_by=(Enrollment.id,),
            )
            now = utcnow()
            yield "".join(_csv_line(_csv_values(to_read(e, now))) for e in page.items)
            session.expunge_all()
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
