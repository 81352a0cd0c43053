"""Training campaigns: assign published courses to groups and people, with a start, a due
date (fixed or relative) and a reminder schedule.

A campaign that starts now enrolls its audience in the request that creates it (one
`enroll` per course: a single statement per 20,000 people on PostgreSQL); one that starts
later is enrolled by the worker's training pass at its start (`start_due_campaigns`). While
active, the same pass enrolls people who have since joined one of its groups — rule groups
follow user attributes, so this is a reconcile, not an event (`reconcile_campaign`); adding
people to a static group enrolls them at once (`enroll_new_group_members`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import NotFound, ValidationFailed
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta, get_scoped, scoped_select
from models.base import utcnow
from models.enrollment import Enrollment, EnrollmentState
from models.group import Group
from models.training_campaign import TrainingCampaign, TrainingCampaignStatus
from models.user import User, UserStatus
from schemas.training_campaign import (
    ReminderSchedule,
    TrainingCampaignCreate,
    TrainingCampaignUpdate,
)
from services import audit
from services.courses import CourseNotFound
from services.enrollments import enroll, enrollable_version
from services.groups import audience_filter

Status = TrainingCampaignStatus
SOURCE = "training_campaign"


class TrainingCampaignNotFound(NotFound):
    code = "training_campaign_not_found"
    message = "No such training campaign."


class InvalidCampaign(ValidationFailed):
    code = "training_campaign_invalid"
    message = "The training campaign is not valid."


class InvalidReference(ValidationFailed):
    code = "training_campaign_reference_invalid"
    message = "The campaign refers to something that does not exist in this company."


async def get_campaign(
    session: AsyncSession, auth: AuthContext, campaign_id: uuid.UUID
) -> TrainingCampaign:
    return await get_scoped(
        session, TrainingCampaign, campaign_id, auth, error=TrainingCampaignNotFound
    )


async def list_campaigns(
    session: AsyncSession,
    auth: AuthContext,
    page: PageParams,
    *,
    status: TrainingCampaignStatus | None = None,
) -> PageResult[TrainingCampaign]:
    stmt = scoped_select(TrainingCampaign, auth)
    if status is not None:
        stmt = stmt.where(TrainingCampaign.status == status)
    return await paginate(session, stmt, page, order_by=(TrainingCampaign.id,))


# --- checks ----------------------------------------------------------------------------


async def _check_courses(
    session: AsyncSession, auth: AuthContext, ids: Sequence[uuid.UUID]
) -> None:
    """Each course must be visible to the company and published: an unknown one is a bad
    reference, a draft or archived one is `course_not_published` (both 422)."""
    for course_id in dict.fromkeys(ids):
        try:
            await enrollable_version(session, auth.company_id, course_id)
        except CourseNotFound as exc:
            raise InvalidReference(
                f"course_ids: no such course: {course_id}",
                details={"field": "course_ids", "ids": [str(course_id)]},
            ) from exc


async def _check_ids(
    session: AsyncSession, auth: AuthContext, model: Any, ids: Sequence[uuid.UUID], field: str
) -> None:
    wanted = set(ids)
    if not wanted:
        return
    found = set(
        await session.scalars(
            select(model.id).where(model.company_id == auth.company_id, model.id.in_(wanted))
        )
    )
    if missing := sorted(str(i) for i in wanted - found):
        raise InvalidReference(
            f"{field}: not found in this company: {', '.join(missing)}",
            details={"field": field, "ids": missing},
        )


def _check_dates(
    starts_at: datetime, due_at: datetime | None, due_days: int | None, reminders: ReminderSchedule
) -> None:
    if due_at is not None and due_days is not None:
        raise InvalidCampaign(
            "Give a fixed due date (due_at) or a relative one (due_days), not both.",
            details={"fields": ["due_at", "due_days"]},
        )
    if due_at is not None and due_at <= starts_at:
        raise InvalidCampaign(
            "The due date must be after the start date.",
            details={"field": "due_at", "starts_at": starts_at.isoformat()},
        )
    if reminders.needs_due_date and due_at is None and due_days is None:
        raise InvalidCampaign(
            "Reminders before the due date, when overdue, or to managers need a due date.",
            details={"field": "reminders"},
        )


def _ids(values: Sequence[uuid.UUID]) -> list[str]:
    return [str(v) for v in dict.fromkeys(values)]


# --- create, update ----------------------------------------------------------------------


async def create_campaign(
    session: AsyncSession, auth: AuthContext, data: TrainingCampaignCreate, *, meta: RequestMeta
) -> TrainingCampaign:
    now = utcnow()
    starts_at = data.starts_at or now
    _check_dates(starts_at, data.due_at, data.due_days, data.reminders)
    if not data.group_ids and not data.user_ids:
        raise InvalidCampaign(
            "Assign the courses to at least one group or person.",
            details={"fields": ["group_ids", "user_ids"]},
        )
    await _check_courses(session, auth, data.course_ids)
    await _check_ids(session, auth, Group, data.group_ids, "group_ids")
    await _check_ids(session, auth, User, data.user_ids, "user_ids")
    campaign = TrainingCampaign(
        company_id=auth.company_id,
        name=data.name,
        description=data.description,
        status=Status.scheduled,
        course_ids=_ids(data.course_ids),
        group_ids=_ids(data.group_ids),
        user_ids=_ids(data.user_ids),
        starts_at=starts_at,
        due_at=data.due_at,
        due_days=data.due_days,
        auto_enroll=data.auto_enroll,
        reminders=data.reminders.model_dump(),
        enrolled_count=0,
    )
    session.add(campaign)
    await session.flush()
    if starts_at <= now:
        await start_campaign(session, campaign, now=now)
    await audit.record(
        session,
        "training_campaign.created",
        auth=auth,
        target=("training_campaign", campaign.id),
        meta=meta,
        changes={
            "name": data.name,
            "courses": campaign.course_ids,
            "enrolled": campaign.enrolled_count,
        },
    )
    return campaign


async def update_campaign(
    session: AsyncSession,
    auth: AuthContext,
    campaign_id: uuid.UUID,
    data: TrainingCampaignUpdate,
    *,
    meta: RequestMeta,
) -> TrainingCampaign:
    campaign = await get_campaign(session, auth, campaign_id)
    changes = data.model_dump(exclude_unset=True, mode="json")
    if campaign.status is Status.archived and changes.keys() - {"name", "description"}:
        raise InvalidCampaign(
            "An archived campaign can only be renamed.", details={"status": "archived"}
        )
    if "starts_at" in changes and campaign.status is not Status.scheduled:
        raise InvalidCampaign(
            "The start date can change only before the campaign starts.",
            details={"field": "starts_at", "status": campaign.status.value},
        )
    if "status" in changes and data.status is not Status.archived:
        raise InvalidCampaign(
            "The status can only be set to archived; campaigns start by themselves.",
            details={"field": "status"},
        )
    for field in ("starts_at", "auto_enroll", "reminders"):
        if field in changes and getattr(data, field) is None:
            raise InvalidCampaign(f"{field} cannot be null.", details={"field": field})
    starts_at = data.starts_at or campaign.starts_at
    due_at = data.due_at if "due_at" in changes else campaign.due_at
    if due_at is not None and campaign.due_days is not None:
        raise InvalidCampaign(
            "This campaign's due date is relative (due_days); it cannot take a fixed one.",
            details={"field": "due_at"},
        )
    reminders = data.reminders or ReminderSchedule.model_validate(campaign.reminders)
    _check_dates(starts_at, due_at, campaign.due_days, reminders)
    await _check_ids(session, auth, Group, data.group_ids or [], "group_ids")
    await _check_ids(session, auth, User, data.user_ids or [], "user_ids")
    _apply(campaign, data, changes)
    if "due_at" in changes:
        await _move_due_dates(session, campaign)
    if data.status is Status.archived and campaign.archived_at is None:
        campaign.status = Status.archived
        campaign.archived_at = utcnow()
    await session.flush()
    if campaign.status is Status.active and changes.keys() & {"group_ids", "user_ids"}:
        await reconcile_campaign(session, campaign)
    await audit.record(
        session,
        "training_campaign.updated",
        auth=auth,
        target=("training_campaign", campaign.id),
        meta=meta,
        changes=changes,
    )
    return campaign


def _apply(
    campaign: TrainingCampaign, data: TrainingCampaignUpdate, changes: dict[str, Any]
) -> None:
    if data.name is not None:
        campaign.name = data.name
    if data.description is not None:
        campaign.description = data.description
    if data.group_ids is not None:
        campaign.group_ids = _ids(data.group_ids)
    if data.user_ids is not None:
        campaign.user_ids = _ids(data.user_ids)
    if data.starts_at is not None:
        campaign.starts_at = data.starts_at
    if "due_at" in changes:
        campaign.due_at = data.due_at
    if data.auto_enroll is not None:
        campaign.auto_enroll = data.auto_enroll
    if data.reminders is not None:
        campaign.reminders = data.reminders.model_dump()


async def _move_due_dates(session: AsyncSession, campaign: TrainingCampaign) -> None:
    """A new fixed due date applies to every unfinished enrollment of the campaign."""
    await session.execute(
        update(Enrollment)
        .where(
            Enrollment.company_id == campaign.company_id,
            Enrollment.training_campaign_id == campaign.id,
            Enrollment.state != EnrollmentState.completed,
        )
        .values(due_at=campaign.due_at, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# --- enrolling ---------------------------------------------------------------------------


def _due_for_new_enrollments(campaign: TrainingCampaign, now: datetime) -> datetime | None:
    if campaign.due_days is not None:
        return now + timedelta(days=campaign.due_days)
    return campaign.due_at


async def _audience_ids(
    session: AsyncSession, campaign: TrainingCampaign, course_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """Enabled people the campaign targets now; with `course_id`, only those not yet
    enrolled in that course (by this campaign or any other way)."""
    audience = await audience_filter(
        session, campaign.company_id, campaign.group_ids, campaign.user_ids
    )
    if audience is None:
        return []
    stmt = select(User.id).where(
        User.company_id == campaign.company_id, User.status != UserStatus.disabled, audience
    )
    if course_id is not None:
        stmt = stmt.where(
            ~exists().where(
                and_(
                    Enrollment.company_id == campaign.company_id,
                    Enrollment.user_id == User.id,
                    Enrollment.course_id == course_id,
                )
            )
        )
    return list((await session.scalars(stmt)).all())


async def _enroll_everyone(
    session: AsyncSession, campaign: TrainingCampaign, *, now: datetime, only_missing: bool
) -> int:
    created = 0
    everyone = None if only_missing else await _audience_ids(session, campaign, None)
    for raw in campaign.course_ids:
        course_id = uuid.UUID(raw)
        people = (
            everyone if everyone is not None else await _audience_ids(session, campaign, course_id)
        )
        if not people:
            continue
        try:
            created += await enroll(
                session,
                campaign.company_id,
                people,
                course_id,
                due_at=_due_for_new_enrollments(campaign, now),
                training_campaign_id=campaign.id,
                source=SOURCE,
            )
        except (CourseNotFound, ValidationFailed):
            # Archived (or deleted) since the campaign was made: people already enrolled
            # keep their enrollment; nobody new can be enrolled in it.
            continue
    campaign.enrolled_count += created
    return created


async def start_campaign(
    session: AsyncSession, campaign: TrainingCampaign, *, now: datetime | None = None
) -> int:
    """Enroll the audience in every course and make the campaign active."""
    now = now or utcnow()
    created = await _enroll_everyone(session, campaign, now=now, only_missing=False)
    campaign.status = Status.active
    campaign.started_at = now
    await session.flush()
    return created


async def reconcile_campaign(session: AsyncSession, campaign: TrainingCampaign) -> int:
    """Enroll whoever the campaign targets now and is not enrolled yet (auto-enroll)."""
    if campaign.status is not Status.active:
        return 0
    created = await _enroll_everyone(session, campaign, now=utcnow(), only_missing=True)
    if created:
        await session.flush()
    return created


async def enroll_new_group_members(
    session: AsyncSession, company_id: uuid.UUID, group_id: uuid.UUID
) -> int:
    """A static group gained members: enroll them now in the active auto-enrolling
    campaigns that assign the group (the periodic reconcile would, a pass later)."""
    campaigns = (
        await session.scalars(
            select(TrainingCampaign).where(
                TrainingCampaign.company_id == company_id,
                TrainingCampaign.status == Status.active,
                TrainingCampaign.auto_enroll.is_(True),
            )
        )
    ).all()
    created = 0
    for campaign in campaigns:
        if str(group_id) in campaign.group_ids:
            created += await reconcile_campaign(session, campaign)
    return created
