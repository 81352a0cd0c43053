"""Courses: a catalog of platform courses (the operator's, visible to every company) and a
company's own, each an ordered tree of modules and lessons, frozen into an immutable
`CourseVersion` snapshot at every publish.

Platform rows belong to the operator's own company (`companies.is_platform`) and carry
`is_platform = true`; the row-level security policy of these four tables shows them to every
company, read-only (`core.rls.enable_statements(..., platform_shared=True)`).

Quiz questions and their options are kept as JSON on the quiz lesson: they are always
written and read together with their quiz, and the snapshot freezes them anyway.
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
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey, utcnow


class CourseStatus(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


class LessonKind(StrEnum):
    text = "text"
    media = "media"
    quiz = "quiz"
    policy = "policy"


def _enum(kind: type[StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class PlatformShared:
    """Written by the operator's company, read by all: see the module docstring."""

    is_platform: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Course(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, PlatformShared, Base):
    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("company_id", "slug"),)

    # Stable name of a platform course loaded from a file (core/data/courses/<slug>.yaml).
    slug: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[CourseStatus] = mapped_column(_enum(CourseStatus), default=CourseStatus.draft)
    # Number of the newest published version (0: never published).
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Hash of the course file last loaded, so re-running the loader publishes only changes.
    source_hash: Mapped[str | None] = mapped_column(String(64))


class CourseModule(UUIDPrimaryKey, Timestamps, TenantScoped, PlatformShared, Base):
    __tablename__ = "course_modules"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))


class Lesson(UUIDPrimaryKey, Timestamps, TenantScoped, PlatformShared, Base):
    __tablename__ = "lessons"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    module_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("course_modules.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[LessonKind] = mapped_column(_enum(LessonKind))
    title: Mapped[str] = mapped_column(String(200))
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=0)
    body_markdown: Mapped[str | None] = mapped_column(Text)
    # Rendered from the Markdown and sanitized when written; what learners are shown.
    body_html: Mapped[str | None] = mapped_column(Text)
    statement: Mapped[str | None] = mapped_column(String(500))  # policy: what is accepted
    file_key: Mapped[str | None] = mapped_column(String(300))  # media
    media_type: Mapped[str | None] = mapped_column(String(100))
    pass_mark: Mapped[int | None] = mapped_column(Integer)  # quiz, percent
    max_attempts: Mapped[int | None] = mapped_column(Integer)  # quiz; 0 = unlimited
    # quiz: [{id, kind, prompt, explanation, options: [{id, text, correct}]}]
    questions: Mapped[list[Any] | None] = mapped_column(JSON)


class CourseVersion(UUIDPrimaryKey, TenantScoped, PlatformShared, Base):
    """What was published, frozen: enrollments point here, so a later publish never changes
    the course under a learner who is in the middle of it."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "version"),)

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # {"title", "description", "language", "tags", "estimated_minutes",
    #  "modules": [{"id", "title", "lessons": [{...lesson, questions with answers...}]}]}
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
