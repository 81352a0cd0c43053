from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from models.phishing_campaign import CampaignStatus, SendStatus
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

Name = Annotated[str, Field(min_length=1, max_length=200)]
IdList = Annotated[list[uuid.UUID], Field(max_length=500)]
Slug = Annotated[str, Field(min_length=1, max_length=100)]
# Up to 30 days; 0 sends everything at the launch time.
WindowMinutes = Annotated[int, Field(ge=0, le=43_200)]
CompleteAfterDays = Annotated[int, Field(ge=0, le=365)]


class BusinessHours(BaseModel):
    """Send only inside these hours, in each recipient's own timezone."""

    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)] = [
        0,
        1,
        2,
        3,
        4,
    ]
    start: time = time(9, 0)
    end: time = time(17, 0)

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        return self

    def stored(self) -> dict[str, object]:
        return {
            "days": self.days,
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


class CampaignCreate(CreateSchema):
    name: Name
    template_ids: IdList = Field(default_factory=list)
    # Platform lures by slug: copied into the company's templates when the campaign is made.
    platform_templates: Annotated[list[Slug], Field(max_length=20)] = Field(default_factory=list)
    landing_page_id: uuid.UUID | None = None
    sending_profile_id: uuid.UUID
    group_ids: IdList = Field(default_factory=list)
    user_ids: IdList = Field(default_factory=list)
    launch_at: AwareDatetime | None = None
    send_window_minutes: WindowMinutes = 0
    business_hours: BusinessHours | None = None
    complete_after_days: CompleteAfterDays = 7
    remediation_course_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _needs_a_template(self) -> CampaignCreate:
        if not self.template_ids and not self.platform_templates:
            raise ValueError("choose at least one template (template_ids or platform_templates)")
        return self


class CampaignUpdate(UpdateSchema):
    """Only `name` may change once a campaign has launched."""

    name: Name | None = None
    template_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=500)] | None = None
    landing_page_id: uuid.UUID | None = None
    sending_profile_id: uuid.UUID | None = None
    group_ids: IdList | None = None
    user_ids: IdList | None = None
    launch_at: AwareDatetime | None = None
    send_window_minutes: WindowMinutes | None = None
    business_hours: BusinessHours | None = None
    complete_after_days: CompleteAfterDays | None = None
    remediation_course_id: uuid.UUID | None = None


class LaunchRequest(CreateSchema):
    """Launch now, or at `launch_at` (overrides the campaign's own time)."""

    launch_at: AwareDatetime | None = None


class SendCounts(BaseModel):
    pending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0


class CampaignRead(ReadSchema):
    id: uuid.UUID
    name: str
    status: CampaignStatus
    template_ids: list[uuid.UUID]
    landing_page_id: uuid.UUID | None
    sending_profile_id: uuid.UUID
    group_ids: list[uuid.UUID]
    user_ids: list[uuid.UUID]
    launch_at: datetime | None
    send_window_minutes: int
    business_hours: BusinessHours | None
    complete_after_days: int
    remediation_course_id: uuid.UUID | None
    launched_at: datetime | None
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    recipient_count: int
    created_at: datetime
    updated_at: datetime


class CampaignDetail(CampaignRead):
    sends: SendCounts | None = None


class RecipientSendRead(ReadSchema):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    template_id: uuid.UUID
    send_status: SendStatus
    send_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
