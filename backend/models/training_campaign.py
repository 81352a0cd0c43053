"""Training campaigns (assignments of courses to people) and their durable reminders.

A campaign names courses, groups and people, a start and a due date (fixed, or a number of
days after each enrollment) and a reminder schedule. At its start it enrolls everyone it
targets (`services.enrollments.enroll`); while active, people who later join one of its
groups are enrolled too. Each reminder is a `TrainingReminder` row, unique per
(enrollment, kind, occurrence), written by the planner when it falls due and claimed by
workers with a lease (`services.training_reminders`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow


class TrainingCampaignStatus(StrEnum):
    scheduled = "scheduled"  # starts later: nobody enrolled yet
    active = "active"  # enrolled; auto-enrolls newcomers and sends reminders
    archived = "archived"  # ended by an admin: enrollments stay, nothing more happens


class ReminderKind(StrEnum):
    at_start = "at_start"
    before_due = "before_due"  # occurrence: days before the due date
    overdue = "overdue"  # occurrence: 0, 1, 2 … every `overdue_every_days`
    escalation = "escalation"  # to the learner's manager


class ReminderStatus(StrEnum):
    pending = "pending"  # due at send_at (or a retry)
    sending = "sending"  # leased by a worker; due again when the lease runs out
    sent = "sent"
    failed = "failed"  # refused for good, or out of retries
    skipped = "skipped"  # not needed any more (completed, archived, no manager…)


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class TrainingCampaign(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "training_campaigns"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TrainingCampaignStatus] = mapped_column(
        _enum(TrainingCampaignStatus), default=TrainingCampaignStatus.scheduled
    )
    course_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    group_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    user_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    # One of the two, or neither (no due date): fixed, or days after each enrollment.
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    due_days: Mapped[int | None] = mapped_column(Integer, default=None)
    auto_enroll: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # schemas.training_campaign.ReminderSchedule, stored as given.
    reminders: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)
    enrolled_count: Mapped[int] = mapped_column(Integer, default=0)


class TrainingReminder(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "training_reminders"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "kind", "occurrence"),
        # The claim query: due reminders in planned order.
        Index("ix_training_reminders_due", "status", "send_at"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_campaigns.id", ondelete="CASCADE"), index=True
    )
    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    kind: Mapped[ReminderKind] = mapped_column(_enum(ReminderKind))
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    # The learner, or their manager for an escalation; the address is read at send time.
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[ReminderStatus] = mapped_column(
        _enum(ReminderStatus), default=ReminderStatus.pending
    )
    send_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
