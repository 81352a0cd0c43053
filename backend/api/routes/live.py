"""The live event stream of a phishing campaign: `WS /phishing/campaigns/{id}/live`.

On connect: the credential (`api.dependencies.websocket`), `phishing:manage`, and the
campaign in the caller's company; then `hello`, one `event` message per recorded event, and
a `heartbeat` every `live_heartbeat_seconds`, at which the credential and the campaign are
checked again (an expired token, a disabled user or a revoked key ends the stream with
4401). Messages from the client are read and ignored. The protocol and close codes are in
the README ("Live event stream").
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.dependencies.common import UnitOfWorkRoute
from api.dependencies.websocket import (
    accept,
    authenticate_socket,
    close,
    close_code,
    refuse,
)
from api.prefix import API_PREFIX
from core.config import settings
from core.exceptions import AppError
from core.permissions import Permission
from db.session import unit_of_work
from models.base import utcnow
from models.phishing_campaign import PhishingCampaign
from services import phishing_campaigns
from services.live import EndReason, LiveUnavailable, Subscription, encode, live_hub

router = APIRouter(
    route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/phishing/campaigns", tags=["phishing"]
)

Close = tuple[int, str]
# Why the hub ended a subscription, as the close the client sees.
END_CLOSES: dict[EndReason, Close] = {
    EndReason.lagging: (4429, "lagging"),
    EndReason.interrupted: (1013, "stream_interrupted"),
    EndReason.closed: (1012, "shutting_down"),
}
UNAVAILABLE: Close = (1013, "stream_unavailable")


@router.websocket("/{campaign_id}/live")
async def campaign_live(websocket: WebSocket, campaign_id: str) -> None:
    """The campaign's events as they are recorded."""
    try:
        campaign = await _authorize(websocket, campaign_id)
    except AppError as error:
        await refuse(websocket, error)
        return
    await accept(websocket)
    try:
        async with live_hub.subscribe(campaign.id) as events:
            await websocket.send_text(encode(_hello(campaign)))
            ending = await _serve(websocket, events, lambda: _authorize(websocket, campaign_id))
    except LiveUnavailable:
        ending = UNAVAILABLE
    except WebSocketDisconnect:
        ending = None
    if ending is not None:
        await close(websocket, *ending)


async def _authorize(websocket: WebSocket, campaign_id: str) -> PhishingCampaign:
    async with unit_of_work() as session:
        auth = await authenticate_socket(session, websocket, Permission.phishing_manage)
        try:
            wanted = uuid.UUID(campaign_id)
        except ValueError:
            raise phishing_campaigns.CampaignNotFound() from None
        return await phishing_campaigns.get_campaign(session, auth, wanted)


def _hello(campaign: PhishingCampaign) -> dict[str, Any]:
    return {
        "type": "hello",
        "campaign": {
            "id": str(campaign.id),
            "name": campaign.name,
            "status": campaign.status.value,
        },
        "heartbeat_seconds": settings.live_heartbeat_seconds,
        "server_time": utcnow().isoformat(),
    }


async def _serve(
    websocket: WebSocket,
    events: Subscription,
    recheck: Callable[[], Awaitable[object]],
) -> Close | None:
    """Until the client leaves (None) or the stream must end (the close to send)."""
    sender = asyncio.create_task(_send(websocket, events, recheck))
    receiver = asyncio.create_task(_until_client_leaves(websocket))
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
    return sender.result() if sender in done else None


async def _send(
    websocket: WebSocket, events: Subscription, recheck: Callable[[], Awaitable[object]]
) -> Close | None:
    loop = asyncio.get_running_loop()
    interval = settings.live_heartbeat_seconds
    next_beat = loop.time() + interval
    try:
        while True:
            try:
                async with asyncio.timeout_at(next_beat):
                    message = await anext(events)
            except TimeoutError:
                next_beat = loop.time() + interval
                try:
                    await recheck()
                except AppError as error:
                    return close_code(error), error.code
                heartbeat = {"type": "heartbeat", "server_time": utcnow().isoformat()}
                await websocket.send_text(encode(heartbeat))
                continue
            except StopAsyncIteration:
                return END_CLOSES[events.end_reason or EndReason.closed]
            await websocket.send_text(message)
    except WebSocketDisconnect:
        return None


async def _until_client_leaves(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
