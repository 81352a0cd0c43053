"""Campaign results: stats, per-recipient status, the event timeline, CSV export.

Admins see everyone; managers (permission `phishing:results:read`) see the people of the
groups they manage. Formulas are in `backend/README.md`, "Campaign results".
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.dependencies.auth import require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.phishing_event import EventType
from schemas.base import ErrorResponse, Page
from schemas.phishing_results import CampaignStats, EventRead, RecipientResult, ResultStatus
from services import phishing_results
from services.phishing_results import ResultFilters

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/campaigns", tags=["phishing"]
)

Results = Annotated[AuthContext, Depends(require(Permission.phishing_results_read))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}
CSV_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "department",
    "job_title",
    "status",
    "send_status",
    "sent_at",
    "opened_at",
    "clicked_at",
    "submitted_at",
    "reported_at",
    "automated_events",
    "last_error",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filters(
    status: ResultStatus | None = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    automated: Annotated[
        bool | None,
        Query(
            description="Only recipients with (true) or without (false) events suspected automated."
        ),
    ] = None,
) -> ResultFilters:
    return ResultFilters(status=status, department=department, automated=automated)


FiltersDep = Annotated[ResultFilters, Depends(_filters)]


@router.get("/{campaign_id}/stats", responses=_404)
async def campaign_stats(
    campaign_id: uuid.UUID, auth: Results, session: SessionDep
) -> CampaignStats:
    """The campaign's figures.

    - `sent`: accepted by the mail server. `delivered` = sent, plus sends whose outcome is
      unknown (connection lost after the data) that someone then acted on. There is no
      bounce tracking: a message accepted and bounced later still counts as delivered.
    - `opened` = opened, clicked or submitted (a click proves the open); `clicked` =
      clicked or submitted; `submitted`; `reported`: each recipient counted once, by their
      first human event (events suspected automated never count).
    - `errors`: `failed` (refused for good) + `unknown`; `scheduled`, `cancelled`.
    - `rates` (fractions of `delivered`, null if 0): click = clicked ÷ delivered, submit =
      submitted ÷ delivered, report = reported ÷ delivered, phish-prone = recipients who
      clicked or submitted ÷ delivered.
    - `median_seconds_to_click` / `_to_report`: median of (first click - sent_at) and
      (first report - sent_at) over the recipients who did.
    - `automation`: events flagged as suspected automation, the recipients they concern,
      counted per reason."""
    return await phishing_results.campaign_stats(session, auth, campaign_id)


@router.get("/{campaign_id}/results", responses=_404)
async def campaign_results(
    campaign_id: uuid.UUID,
    auth: Results,
    session: SessionDep,
    page: PageDep,
    filters: FiltersDep,
) -> Page[RecipientResult]:
    """Each recipient's furthest step (`reported` > `submitted` > `clicked` > `opened` >
    `sent`, else the send's state: `failed`, `unknown`, `cancelled`, `scheduled`), with
    first times and send errors; filter by `status`, `department`, `automated`."""
    result = await phishing_results.list_results(session, auth, campaign_id, page, filters=filters)
    return Page[RecipientResult](items=result.items, next_cursor=result.next_cursor)


@router.get("/{campaign_id}/events", responses=_404)
async def campaign_events(
    campaign_id: uuid.UUID,
    auth: Results,
    session: SessionDep,
    page: PageDep,
    type: EventType | None = None,
    recipient_id: uuid.UUID | None = None,
    automated: bool | None = None,
) -> Page[EventRead]:
    """The timeline, newest first: every event, repeats and suspected automation (with its
    reason) included; filter by `type`, `recipient_id`, `automated`."""
    result = await phishing_results.list_events(
        session, auth, campaign_id, page, type=type, recipient_id=recipient_id, automated=automated
    )
    return Page[EventRead](items=result.items, next_cursor=result.next_cursor)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


async def _csv(
    auth: AuthContext, campaign_id: uuid.UUID, filters: ResultFilters
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    async for rows in phishing_results.export_results(auth, campaign_id, filters=filters):
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow([_cell(getattr(row, column)) for column in CSV_COLUMNS])
        yield buffer.getvalue()


@router.get(
    "/{campaign_id}/export.csv",
    responses={**_404, 200: {"content": {"text/csv": {}}}},
    response_class=StreamingResponse,
)
async def export_results(
    campaign_id: uuid.UUID,
    auth: Results,
    session: SessionDep,
    filters: FiltersDep,
) -> StreamingResponse:
    """Every recipient's result as CSV (the columns of `results`), streamed page by page.
    Cells starting with `=`, `+`, `-`, `@`, tab or CR get a leading `'` so that no
    spreadsheet runs them as formulas."""
    await phishing_results.check_campaign(session, auth, campaign_id)
    return StreamingResponse(
        _csv(auth, campaign_id, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
    )
