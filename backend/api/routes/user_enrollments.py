"""One person's training, as an admin or their manager sees it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from api.dependencies.auth import require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from api.routes.training_campaigns import csv_response
from core.permissions import Permission
from db.scoping import AuthContext
from models.base import utcnow
from schemas.base import ErrorResponse, Page
from schemas.training_campaign import LearnerEnrollmentRead
from services import training_progress

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/users", tags=["training"])

Read = Annotated[AuthContext, Depends(require(Permission.training_read))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("/{user_id}/enrollments", responses=_404)
async def list_user_enrollments(
    user_id: uuid.UUID, auth: Read, session: SessionDep, page: PageDep
) -> Page[LearnerEnrollmentRead]:
    """All of a person's enrollments, any campaign or none. A manager sees only people in
    the groups they manage (404 for anyone else)."""
    result = await training_progress.list_user_enrollments(session, auth, user_id, page)
    now = utcnow()
    return Page[LearnerEnrollmentRead](
        items=[training_progress.to_read(e, now) for e in result.items],
        next_cursor=result.next_cursor,
    )


@router.get("/{user_id}/enrollments.csv", responses=_404)
async def export_user_enrollments(
    user_id: uuid.UUID, auth: Read, session: SessionDep
) -> StreamingResponse:
    """The same list as CSV, streamed."""
    stmt = await training_progress.user_enrollments_query(session, auth, user_id)
    return csv_response(training_progress.export_csv(auth, stmt), f"user-{user_id}-enrollments.csv")
