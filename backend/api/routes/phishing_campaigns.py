"""Phishing campaigns: configure, launch, pause, resume, cancel."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.phishing_campaign import CampaignStatus, SendStatus
from schemas.base import ErrorResponse, Page
from schemas.phishing_campaign import (
    CampaignCreate,
    CampaignDetail,
    CampaignRead,
    CampaignUpdate,
    LaunchRequest,
    RecipientSendRead,
)
from services import phishing_campaigns

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/campaigns", tags=["phishing"]
)

Manage = Annotated[AuthContext, Depends(require(Permission.phishing_manage))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}
_STATE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("")
async def list_campaigns(
    auth: Manage,
    session: SessionDep,
    page: PageDep,
    status: CampaignStatus | None = None,
) -> Page[CampaignRead]:
    """The company's campaigns, oldest first; filter by `status`."""
    result = await phishing_campaigns.list_campaigns(session, auth, page, status=status)
    return Page[CampaignRead](
        items=[CampaignRead.model_validate(c) for c in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201, responses={422: {"model": ErrorResponse}})
async def create_campaign(
    body: CampaignCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> CampaignRead:
    """A draft campaign. Templates, landing page, sending profile, groups and users must
    belong to the company; `platform_templates` (catalog slugs) are copied into it."""
    campaign = await phishing_campaigns.create_campaign(session, auth, body, meta=meta)
    return CampaignRead.model_validate(campaign)


@router.get("/{campaign_id}", responses=_404)
async def get_campaign(campaign_id: uuid.UUID, auth: Manage, session: SessionDep) -> CampaignDetail:
    """One campaign, with its sends counted by state once launched."""
    campaign = await phishing_campaigns.get_campaign(session, auth, campaign_id)
    detail = CampaignDetail.model_validate(campaign)
    if campaign.launched_at is not None:
        detail.sends = await phishing_campaigns.send_counts(session, campaign)
    return detail


@router.patch("/{campaign_id}", responses=_STATE)
async def update_campaign(
    campaign_id: uuid.UUID,
    body: CampaignUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> CampaignRead:
    """Change a draft; once launched only the name can change (409 otherwise)."""
    campaign = await phishing_campaigns.update_campaign(session, auth, campaign_id, body, meta=meta)
    return CampaignRead.model_validate(campaign)


@router.delete("/{campaign_id}", status_code=204, responses=_STATE)
async def delete_campaign(
    campaign_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> None:
    """Delete a campaign that is not sending (cancel a running one first)."""
    await phishing_campaigns.delete_campaign(session, auth, campaign_id, meta=meta)


@router.post("/{campaign_id}/launch", responses=_STATE)
async def launch_campaign(
    campaign_id: uuid.UUID,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
    body: LaunchRequest | None = None,
) -> CampaignRead:
    """Freeze the recipients and plan every send: now, or at `launch_at`, spread over the
    send window (and business hours, if set). 422 when nobody would receive it."""
    campaign = await phishing_campaigns.launch_campaign(
        session, auth, campaign_id, launch_at=body.launch_at if body else None, meta=meta
    )
    return CampaignRead.model_validate(campaign)


@router.post("/{campaign_id}/pause", responses=_STATE)
async def pause_campaign(
    campaign_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> CampaignRead:
    """Stop sending for now; nothing not yet handed to the mail server goes out."""
    campaign = await phishing_campaigns.pause_campaign(session, auth, campaign_id, meta=meta)
    return CampaignRead.model_validate(campaign)


@router.post("/{campaign_id}/resume", responses=_STATE)
async def resume_campaign(
    campaign_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> CampaignRead:
    """Carry on sending; sends planned during the pause go out now (within business hours
    and the profile's rate)."""
    campaign = await phishing_campaigns.resume_campaign(session, auth, campaign_id, meta=meta)
    return CampaignRead.model_validate(campaign)


@router.post("/{campaign_id}/cancel", responses=_STATE)
async def cancel_campaign(
    campaign_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> CampaignRead:
    """Stop for good: every send not yet handed over is cancelled."""
    campaign = await phishing_campaigns.cancel_campaign(session, auth, campaign_id, meta=meta)
    return CampaignRead.model_validate(campaign)


@router.get("/{campaign_id}/sends", responses=_404)
async def list_sends(
    campaign_id: uuid.UUID,
    auth: Manage,
    session: SessionDep,
    page: PageDep,
    status: SendStatus | None = None,
) -> Page[RecipientSendRead]:
    """Each recipient's email: planned time, state, attempts, the server's last answer."""
    result = await phishing_campaigns.list_sends(session, auth, campaign_id, page, status=status)
    return Page[RecipientSendRead](
        items=[RecipientSendRead.model_validate(r) for r in result.items],
        next_cursor=result.next_cursor,
    )
