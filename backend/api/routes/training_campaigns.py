"""Training campaigns: assign courses to groups and people, follow their progress."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.base import utcnow
from models.enrollment import EnrollmentState
from models.training_campaign import ReminderKind, ReminderStatus, TrainingCampaignStatus
from schemas.base import ErrorResponse, Page
from schemas.training_campaign import (
    CampaignProgress,
    LearnerEnrollmentRead,
    ReminderRead,
    TrainingCampaignCreate,
    TrainingCampaignRead,
    TrainingCampaignUpdate,
)
from services import training_campaigns, training_progress

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/training-campaigns", tags=["training"]
)

Manage = Annotated[AuthContext, Depends(require(Permission.training_manage))]
Read = Annotated[AuthContext, Depends(require(Permission.training_read))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}
_422: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


def csv_response(body: Any, filename: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("")
async def list_campaigns(
    auth: Read,
    session: SessionDep,
    page: PageDep,
    status: TrainingCampaignStatus | None = None,
) -> Page[TrainingCampaignRead]:
    """The company's training campaigns, newest first; filter by `status`."""
    result = await training_campaigns.list_campaigns(session, auth, page, status=status)
    return Page[TrainingCampaignRead](
        items=[TrainingCampaignRead.model_validate(c) for c in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201, responses=_422)
async def create_campaign(
    body: TrainingCampaignCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> TrainingCampaignRead:
    """Assign published courses (platform or own) to groups and people. Starting now
    enrolls everyone at once; a later `starts_at` enrolls them then. 422 for a draft or
    archived course, a due date before the start, or groups/people of another company."""
    campaign = await training_campaigns.create_campaign(session, auth, body, meta=meta)
    return TrainingCampaignRead.model_validate(campaign)


@router.get("/{campaign_id}", responses=_404)
async def get_campaign(
    campaign_id: uuid.UUID, auth: Read, session: SessionDep
) -> TrainingCampaignRead:
    """One training campaign."""
    campaign = await training_campaigns.get_campaign(session, auth, campaign_id)
    return TrainingCampaignRead.model_validate(campaign)


@router.patch("/{campaign_id}", responses=_422)
async def update_campaign(
    campaign_id: uuid.UUID,
    body: TrainingCampaignUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> TrainingCampaignRead:
    """Rename, retarget (new people are enrolled at once), move the fixed due date of every
    unfinished enrollment, change reminders, or archive (`status: archived`)."""
    campaign = await training_campaigns.update_campaign(session, auth, campaign_id, body, meta=meta)
    return TrainingCampaignRead.model_validate(campaign)


@router.get("/{campaign_id}/enrollments", responses=_404)
async def list_enrollments(
    campaign_id: uuid.UUID,
    auth: Read,
    session: SessionDep,
    page: PageDep,
    state: EnrollmentState | None = None,
    course_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> Page[LearnerEnrollmentRead]:
    """Each learner's progress in the campaign; filter by `state` (`overdue` included),
    `course_id`, `user_id`. Managers see the people in the groups they manage."""
    result = await training_progress.list_campaign_enrollments(
        session, auth, campaign_id, page, state=state, course_id=course_id, user_id=user_id
    )
    now = utcnow()
    return Page[LearnerEnrollmentRead](
        items=[training_progress.to_read(e, now) for e in result.items],
        next_cursor=result.next_cursor,
    )


@router.get("/{campaign_id}/enrollments.csv", responses=_404)
async def export_enrollments(
    campaign_id: uuid.UUID,
    auth: Read,
    session: SessionDep,
    state: EnrollmentState | None = None,
    course_id: uuid.UUID | None = None,
) -> StreamingResponse:
    """The same list as CSV, every row, streamed."""
    stmt = await training_progress.campaign_enrollments_query(
        session, auth, campaign_id, state=state, course_id=course_id
    )
    body = training_progress.export_csv(auth, stmt)
    return csv_response(body, f"training-campaign-{campaign_id}.csv")


@router.get("/{campaign_id}/progress", responses=_404)
async def get_progress(campaign_id: uuid.UUID, auth: Read, session: SessionDep) -> CampaignProgress:
    """Counts by state, completion rate and the most overdue learners."""
    return await training_progress.campaign_progress(session, auth, campaign_id)


@router.get("/{campaign_id}/reminders", responses=_404)
async def list_reminders(
    campaign_id: uuid.UUID,
    auth: Manage,
    session: SessionDep,
    page: PageDep,
    status: ReminderStatus | None = None,
    kind: ReminderKind | None = None,
) -> Page[ReminderRead]:
    """Reminders planned and sent for the campaign: state, attempts, the last error."""
    result = await training_progress.list_reminders(
        session, auth, campaign_id, page, status=status, kind=kind
    )
    return Page[ReminderRead](
        items=[ReminderRead.model_validate(r) for r in result.items],
        next_cursor=result.next_cursor,
    )
