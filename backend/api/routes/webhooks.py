"""Outgoing signed webhooks: endpoints, their secrets, test events and delivery history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.webhook import DeliveryStatus
from schemas.base import ErrorResponse, Page
from schemas.webhook import (
    WebhookCreate,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from services import webhooks

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"])

Manage = Annotated[AuthContext, Depends(require(Permission.webhooks_manage))]
_404: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


def _with_secret(endpoint: object, secret: str) -> WebhookWithSecret:
    read = WebhookRead.model_validate(endpoint)
    return WebhookWithSecret(**read.model_dump(), secret=secret)


@router.get("")
async def list_webhooks(auth: Manage, session: SessionDep, page: PageDep) -> Page[WebhookRead]:
    """The company's webhook endpoints (secrets never shown)."""
    result = await webhooks.list_endpoints(session, auth, page)
    return Page[WebhookRead](
        items=[WebhookRead.model_validate(e) for e in result.items],
        next_cursor=result.next_cursor,
    )


@router.post("", status_code=201)
async def create_webhook(
    body: WebhookCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> WebhookWithSecret:
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    endpoint, secret = await webhooks.create_endpoint(session, auth, body, meta=meta)
    return _with_secret(endpoint, secret)


@router.get("/{webhook_id}", responses=_404)
async def get_webhook(webhook_id: uuid.UUID, auth: Manage, session: SessionDep) -> WebhookRead:
    """One endpoint, with its failure count and why it was disabled, if it was."""
    return WebhookRead.model_validate(await webhooks.get_endpoint(session, auth, webhook_id))


@router.patch("/{webhook_id}", responses=_404)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> WebhookRead:
    """Change an endpoint; `active: true` re-enables it and clears its failure count."""
    endpoint = await webhooks.update_endpoint(session, auth, webhook_id, body, meta=meta)
    return WebhookRead.model_validate(endpoint)


@router.delete("/{webhook_id}", status_code=204, responses=_404)
async def delete_webhook(
    webhook_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> None:
    """Delete an endpoint; its undelivered events are abandoned."""
    await webhooks.delete_endpoint(session, auth, webhook_id, meta=meta)


@router.post("/{webhook_id}/rotate-secret", responses=_404)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> WebhookWithSecret:
    """Replace the signing secret at once; the new one is shown this once."""
    endpoint, secret = await webhooks.rotate_secret(session, auth, webhook_id, meta=meta)
    return _with_secret(endpoint, secret)


@router.post(
    "/{webhook_id}/test", status_code=202, responses={**_404, 409: {"model": ErrorResponse}}
)
async def send_webhook_test(
    webhook_id: uuid.UUID, auth: Manage, session: SessionDep
) -> WebhookDeliveryRead:
    """Queue a `webhook.test` event for this endpoint; follow it in its deliveries."""
    delivery = await webhooks.send_test_event(session, auth, webhook_id)
    return WebhookDeliveryRead.model_validate(delivery)


@router.get("/{webhook_id}/deliveries", responses=_404)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    auth: Manage,
    session: SessionDep,
    page: PageDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status.")] = None,
) -> Page[WebhookDeliveryRead]:
    """The endpoint's deliveries, newest first: status, attempts, last answer."""
    result = await webhooks.list_deliveries(session, auth, webhook_id, page, status=status)
    return Page[WebhookDeliveryRead](
        items=[WebhookDeliveryRead.model_validate(d) for d in result.items],
        next_cursor=result.next_cursor,
    )
