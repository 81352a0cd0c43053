"""Phishing campaigns and their recipients.

A campaign is configured as a draft; launching freezes its recipient list into one
`CampaignRecipient` row per person, written in the launch transaction. That row is also
the durable send: its planned time, its fixed Message-ID, its delivery state and lease
(see `services.phishing_sender`), and its unguessable tracking token.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey


class CampaignStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    running = "running"
    paused = "paused"
    completed = "completed"
    cancelled = "cancelled"


class SendStatus(StrEnum):
    pending = "pending"  # waiting for its planned time (or a retry)
    claimed = "claimed"  # leased by a worker, not yet handed to the SMTP server
    handover = "handover"  # message data being handed over: the outcome is not known yet
    sent = "sent"
    failed = "failed"  # refused for good (5xx) or out of retries
    unknown = "unknown"  # the connection broke after the data was handed over
    cancelled = "cancelled"


FINAL_SEND_STATES = (SendStatus.sent, SendStatus.failed, SendStatus.unknown, SendStatus.cancelled)


def _enum(cls: type[StrEnum], length: int) -> Enum:
    return Enum(cls, native_enum=False, length=length, validate_strings=True)


class PhishingCampaign(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "phishing_campaigns"

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus, 10), default=CampaignStatus.draft
    )
    # One template, or several chosen at random per recipient.
    template_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    landing_page_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("landing_pages.id", ondelete="RESTRICT"), default=None
    )
    sending_profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sending_profiles.id", ondelete="RESTRICT")
    )
    group_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    user_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # When to start sending (None: at launch), and over how long to spread the sends.
    launch_at: Mapped[datetime | None] = mapped_column(default=None)
    send_window_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # {"days": [0..6], "start": "09:00", "end": "17:00"} in each recipient's timezone.
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    complete_after_days: Mapped[int] = mapped_column(Integer, default=7)
    remediation_course_id: Mapped[uuid.UUID | None] = mapped_column(default=None)

    launched_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)


class CampaignRecipient(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "phishing_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id"),
        # The claim query: due sends in planned order.
        Index("ix_phishing_recipients_due", "send_status", "send_at"),
        # The campaign stats' medians (`services.phishing_results`): the middle of each
        # read in order from here instead of sorting the whole campaign. PostgreSQL only:
        # SQLite has no date_part (and its campaigns are small).
        *(
            Index(
                f"ix_phishing_recipients_to_{name}",
                "campaign_id",
                text(f"date_part('epoch', {column} - sent_at)"),
                postgresql_where=text(f"{column} IS NOT NULL AND sent_at IS NOT NULL"),
            ).ddl_if(dialect="postgresql")
            for name, column in (("click", "clicked_at"), ("report", "reported_at"))
        ),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("phishing_campaigns.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sending_profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sending_profiles.id", ondelete="RESTRICT")
    )
    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("email_templates.id", ondelete="RESTRICT")
    )
    # Frozen at launch: who the email went to, even if the person changes or leaves.
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # The credential of the tracking links: random, URL-safe, not derived from any id.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str] = mapped_column(String(255))

    send_status: Mapped[SendStatus] = mapped_column(
        _enum(SendStatus, 10), default=SendStatus.pending
    )
    send_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    # What the person did, first time each (set once, by events not suspected automated;
    # `models.phishing_event` keeps every event). A status never goes backwards.
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    clicked_at: Mapped[datetime | None] = mapped_column(default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    reported_at: Mapped[datetime | None] = mapped_column(default=None)
