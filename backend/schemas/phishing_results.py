"""Campaign results: the figures, each recipient's status, the timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.phishing_campaign import SendStatus
from models.phishing_event import EventType
from schemas.base import ReadSchema


class ResultStatus(StrEnum):
    """A recipient's furthest step: reported > submitted > clicked > opened > sent, then the
    send's own state when nothing was done with it."""

    scheduled = "scheduled"  # not sent yet (pending, claimed or being handed over)
    cancelled = "cancelled"
    failed = "failed"
    unknown = "unknown"  # the connection broke after the data went out
    sent = "sent"
    opened = "opened"
    clicked = "clicked"
    submitted = "submitted"
    reported = "reported"


class SendErrors(BaseModel):
    total: int
    failed: int
    unknown: int


class AutomationReason(BaseModel):
    reason: str | None
    events: int
    recipients: int


class Automation(BaseModel):
    """Events flagged as suspected automation (scanners, link previewers): kept, listed
    here, and left out of every other figure."""

    events: int
    recipients: int
    reasons: list[AutomationReason]


class Rates(BaseModel):
    """Fractions (0 to 1) of `delivered`; null while nothing is delivered."""

    click_rate: float | None
    submit_rate: float | None
    report_rate: float | None
    phish_prone: float | None = Field(
        description="Recipients who clicked or submitted ÷ delivered."
    )


class CampaignStats(BaseModel):
    campaign_id: uuid.UUID
    scope: Literal["company", "managed_groups"]
    recipients: int
    scheduled: int
    cancelled: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    submitted: int
    reported: int
    errors: SendErrors
    automation: Automation
    rates: Rates
    median_seconds_to_click: float | None
    median_seconds_to_report: float | None


class RecipientResult(ReadSchema):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    department: str | None
    job_title: str | None
    status: ResultStatus
    send_status: SendStatus
    sent_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    submitted_at: datetime | None
    reported_at: datetime | None
    last_error: str | None
    automated_events: int = 0


class EventRead(ReadSchema):
    id: uuid.UUID
    recipient_id: uuid.UUID
    email: str | None = None
    type: EventType
    occurred_at: datetime
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    automated: bool
    automation_reason: str | None
