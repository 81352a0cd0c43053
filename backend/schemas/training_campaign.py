from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from models.enrollment import EnrollmentState
from models.training_campaign import ReminderKind, ReminderStatus, TrainingCampaignStatus
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]
IdList = Annotated[list[uuid.UUID], Field(max_length=500)]
CourseIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=20)]
DueDays = Annotated[int, Field(ge=1, le=365)]


class ReminderSchedule(BaseModel):
    """When learners (and their managers) are reminded. Every reminder goes to an
    unfinished enrollment only; completing the course stops them all."""

    model_config = ConfigDict(extra="forbid")

    at_start: bool = Field(default=True, description="Tell people when they are enrolled.")
    before_due_days: Annotated[list[Annotated[int, Field(ge=1, le=365)]], Field(max_length=5)] = (
        Field(default_factory=list, description="E.g. [7, 1]: 7 days and 1 day before due.")
    )
    overdue_every_days: Annotated[int, Field(ge=1, le=90)] | None = Field(
        default=None, description="Once overdue: at the due date, then every N days."
    )
    overdue_max: Annotated[int, Field(ge=1, le=52)] = Field(
        default=4, description="At most this many overdue reminders per enrollment."
    )
    escalate_to_manager_after_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        default=None, description="Email the learner's manager N days after the due date."
    )

    @field_validator("before_due_days")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        return sorted(set(value), reverse=True)

    @property
    def needs_due_date(self) -> bool:
        return bool(
            self.before_due_days
            or self.overdue_every_days is not None
            or self.escalate_to_manager_after_days is not None
        )


class TrainingCampaignCreate(CreateSchema):
    name: Name
    description: Description = ""
    course_ids: CourseIds
    group_ids: IdList = Field(default_factory=list)
    user_ids: IdList = Field(default_factory=list)
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    due_at: AwareDatetime | None = Field(default=None, description="A fixed due date…")
    due_days: DueDays | None = Field(default=None, description="…or N days after enrollment.")
    auto_enroll: bool = Field(
        default=True, description="Enroll people who join one of the groups later."
    )
    reminders: ReminderSchedule = Field(default_factory=ReminderSchedule)


class TrainingCampaignUpdate(UpdateSchema):
    """Courses cannot change once people are enrolled; the rest can. Adding groups or people
    enrolls them at the next reconcile (at once if the campaign is active)."""

    name: Name | None = None
    description: Description | None = None
    group_ids: IdList | None = None
    user_ids: IdList | None = None
    starts_at: AwareDatetime | None = Field(default=None, description="Only while scheduled.")
    due_at: AwareDatetime | None = Field(
        default=None, description="Moves the due date of every unfinished enrollment."
    )
    auto_enroll: bool | None = None
    reminders: ReminderSchedule | None = None
    status: TrainingCampaignStatus | None = Field(
        default=None, description="`archived` ends the campaign: no more enrollments or reminders."
    )


class TrainingCampaignRead(ReadSchema):
    id: uuid.UUID
    name: str
    description: str
    status: TrainingCampaignStatus
    course_ids: list[uuid.UUID]
    group_ids: list[uuid.UUID]
    user_ids: list[uuid.UUID]
    starts_at: datetime
    due_at: datetime | None
    due_days: int | None
    auto_enroll: bool
    reminders: ReminderSchedule
    started_at: datetime | None
    archived_at: datetime | None
    enrolled_count: int
    created_at: datetime
    updated_at: datetime


class LearnerEnrollmentRead(BaseModel):
    """One learner's enrollment, as an admin or manager sees it."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    department: str | None
    course_id: uuid.UUID
    course_title: str
    training_campaign_id: uuid.UUID | None
    state: EnrollmentState
    percent: int
    time_spent_seconds: int
    enrolled_at: datetime
    due_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None


class StateCounts(BaseModel):
    not_started: int = 0
    in_progress: int = 0
    completed: int = 0
    overdue: int = 0


class CampaignProgress(BaseModel):
    campaign_id: uuid.UUID
    total: int
    counts: StateCounts
    completion_rate: float = Field(description="Completed / total, 0 to 1.")
    overdue: list[LearnerEnrollmentRead] = Field(
        description="Overdue enrollments, most overdue first (up to 100; the CSV has all)."
    )
    overdue_total: int


class ReminderRead(ReadSchema):
    id: uuid.UUID
    enrollment_id: uuid.UUID
    kind: ReminderKind
    occurrence: int
    recipient_id: uuid.UUID | None
    status: ReminderStatus
    send_at: datetime
    attempts: int
    sent_at: datetime | None
    last_error: str | None
