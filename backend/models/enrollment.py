"""A learner's assignment to a course version, and what they did in it: lesson progress,
policy acknowledgements, quiz attempts and, at the end, a certificate."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow
from models.course import Course
from models.user import User


class EnrollmentState(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    overdue = "overdue"


class Enrollment(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "enrollments"
    # One enrollment per learner and course: enrolling again (another campaign, a
    # remediation) is a no-op, which is what makes bulk enrollment idempotent.
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        Index("ix_enrollments_company_id_course_id", "company_id", "course_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    course_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("course_versions.id", ondelete="CASCADE")
    )
    # Stored states are not_started / in_progress / completed; `overdue` is what an
    # unfinished enrollment past its due date reads as (see `effective_state`).
    state: Mapped[EnrollmentState] = mapped_column(
        Enum(EnrollmentState, native_enum=False, length=20, validate_strings=True),
        default=EnrollmentState.not_started,
    )
    percent: Mapped[int] = mapped_column(Integer, default=0)
    time_spent_seconds: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    training_campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("training_campaigns.id", ondelete="SET NULL"), default=None, index=True
    )
    source: Mapped[str] = mapped_column(String(30), default="manual")
    # Where the learner was last: the resume point.
    last_lesson_id: Mapped[uuid.UUID | None] = mapped_column(default=None)

    course: Mapped[Course] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")

    def effective_state(self, now: datetime) -> EnrollmentState:
        if (
            self.state is not EnrollmentState.completed
            and self.due_at is not None
            and self.due_at < now
        ):
            return EnrollmentState.overdue
        return self.state


class LessonProgress(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("enrollment_id", "lesson_id"),)

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    lesson_id: Mapped[uuid.UUID]  # a lesson of the enrollment's frozen version
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    time_spent_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Policy lessons: when, from where, and exactly what was accepted.
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    acknowledged_statement: Mapped[str | None] = mapped_column(String(500), default=None)


class QuizAttempt(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (UniqueConstraint("enrollment_id", "lesson_id", "number"),)

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    lesson_id: Mapped[uuid.UUID]
    number: Mapped[int] = mapped_column(Integer)
    # The order this attempt showed: [{"id": question, "options": [option ids]}].
    presented: Mapped[list[Any]] = mapped_column(JSON)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    score: Mapped[int | None] = mapped_column(Integer, default=None)  # percent
    passed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)


class Certificate(UUIDPrimaryKey, TenantScoped, Base):
    """What the certificate states, copied at issue time: it must not change later."""

    __tablename__ = "certificates"

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # 160 random bits (core.crypto.new_token), the credential of the public verify page.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    learner_name: Mapped[str] = mapped_column(String(300))
    course_title: Mapped[str] = mapped_column(String(200))
    company_name: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
