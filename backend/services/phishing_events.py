"""Tracking events of phishing simulations: who opened, clicked, submitted or reported.

Events are append-only rows (`models.phishing_event`). The first open, click, submit and
report of each recipient — by a human, not a suspected scanner — is also set once on the
recipient row, so a status never goes backwards and repeats count once.

Other features follow events without this module knowing them: a listener registered
with `on_event` is called after the events' transaction has committed (the live stream
publishes them; listeners must not raise).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loguru import logger

from models.phishing_event import EventType


@dataclass(frozen=True, slots=True)
class EventView:
    """An event as listeners (live stream, …) see it."""

    id: uuid.UUID
    company_id: uuid.UUID
    campaign_id: uuid.UUID
    recipient_id: uuid.UUID
    type: EventType
    occurred_at: datetime
    automated: bool
    automation_reason: str | None
    first: bool  # the recipient's first (human) event of this type

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "campaign_id": str(self.campaign_id),
            "recipient_id": str(self.recipient_id),
            "type": self.type.value,
            "occurred_at": self.occurred_at.isoformat(),
            "automated": self.automated,
            "automation_reason": self.automation_reason,
            "first": self.first,
        }


Listener = Callable[[list[EventView]], Awaitable[None]]
_listeners: list[Listener] = []


def on_event(listener: Listener) -> Listener:
    """Register `listener` to receive each committed batch of events."""
    _listeners.append(listener)
    return listener


async def announce(events: list[EventView]) -> None:
    for listener in list(_listeners):
        try:
            await listener(events)
        except Exception:
            logger.exception("event listener {} failed", getattr(listener, "__name__", listener))
