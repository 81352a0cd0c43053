"""Reported emails: what the report button posts, and what the security team reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from models.phishing_report import ReportStatus
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

ReportKind = Literal["simulated", "real"]


class ReportSubmit(CreateSchema):
    """The JSON form of a report: the whole message base64-encoded, or only its headers."""

    raw: str | None = Field(default=None, description="The RFC 822 message, base64-encoded.")
    headers: str | None = Field(default=None, description="The message's header block.")
    reporter: str | None = Field(
        default=None,
        max_length=320,
        description="API keys only: the email address of the employee who reported it.",
    )

    @model_validator(mode="after")
    def _one_message(self) -> Self:
        if (self.raw is None) == (self.headers is None):
            raise ValueError("give exactly one of `raw` and `headers`")
        return self


class ReportOutcome(BaseModel):
    """All the report button learns: whether it was one of our simulations."""

    simulation: bool


class Attachment(BaseModel):
    filename: str | None
    content_type: str
    size: int
    sha256: str


class ReportSummary(BaseModel):
    """One report in the list: a real suspected phish, or a reported simulation."""

    id: uuid.UUID
    kind: ReportKind
    reported_at: datetime
    reporter_email: str | None
    # Real reports.
    status: ReportStatus | None = None
    subject: str | None = None
    from_address: str | None = None
    # Simulations: the recipient's report event.
    campaign_id: uuid.UUID | None = None
    recipient_id: uuid.UUID | None = None
    automated: bool | None = None


class ReportedEmailRead(ReadSchema):
    """A real suspected phish, as the security team reads it (the raw message apart)."""

    id: uuid.UUID
    kind: ReportKind = "real"
    created_at: datetime
    updated_at: datetime
    status: ReportStatus
    notes: str | None
    reporter_user_id: uuid.UUID | None
    reporter_email: str | None
    api_key_id: uuid.UUID | None
    from_address: str | None
    reply_to: str | None
    return_path: str | None
    subject: str | None
    sent_at: datetime | None
    message_id: str | None
    urls: list[str]
    attachments: list[Attachment]
    raw_size: int
    headers_only: bool


class ReportUpdate(UpdateSchema):
    status: ReportStatus | None = None
    notes: str | None = Field(default=None, max_length=10_000)
