"""What recipients did with a simulation email: append-only tracking events."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantScoped, UUIDPrimaryKey, utcnow


class EventType(StrEnum):
    opened = "opened"
    clicked = "clicked"
    submitted = "submitted"
    reported = "reported"


class PhishingEvent(UUIDPrimaryKey, TenantScoped, Base):
    """One thing that happened, kept as it happened: repeats, scanners and all. Rows are
    never updated or deleted (the app role may only SELECT and INSERT)."""

    __tablename__ = "phishing_events"
    __table_args__ = (
        Index("ix_phishing_events_campaign_time", "campaign_id", "occurred_at"),
        # Campaign stats count suspected automation per reason without reading the rest.
        Index(
            "ix_phishing_events_automated",
            "campaign_id",
            "automation_reason",
            "recipient_id",
            "company_id",  # row-level security's column: an index-only scan
            postgresql_where=text("automated"),
            sqlite_where=text("automated"),
        ),
        {"info": {"append_only": True}},
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("phishing_campaigns.id", ondelete="CASCADE")
    )
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("phishing_recipients.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[EventType] = mapped_column(
        Enum(EventType, native_enum=False, length=10, validate_strings=True)
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # E.g. the field names of a submitted form (never a password's value).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Suspected automation (mail scanners, link previewers): kept, but not counted.
    automated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    automation_reason: Mapped[str | None] = mapped_column(String(200))
