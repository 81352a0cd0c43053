from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from models.webhook import EVENT_TYPES, DeliveryStatus
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

_FAMILIES = {name.split(".", 1)[0] for name in EVENT_TYPES}
Url = Annotated[str, Field(min_length=8, max_length=2000)]
Description = Annotated[str, Field(max_length=500)]
Events = Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=20)]


def _check_events(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    for name in value:
        family = name[:-2] if name.endswith(".*") else None
        if name != "*" and name not in EVENT_TYPES and family not in _FAMILIES:
            known = ", ".join([*sorted(EVENT_TYPES), *sorted(f"{f}.*" for f in _FAMILIES), "*"])
            raise ValueError(f"unknown event '{name}'; known: {known}")
    return list(dict.fromkeys(value))


class WebhookCreate(CreateSchema):
    url: Url = Field(description="https (http only where private targets are allowed).")
    description: Description | None = None
    events: Events = Field(
        description="Event names, or patterns: `phishing.*`, `training.*`, `report.*`, `*`."
    )
    active: bool = True

    _events = field_validator("events")(_check_events)


class WebhookUpdate(UpdateSchema):
    url: Url | None = None
    description: Description | None = None
    events: Events | None = None
    active: bool | None = Field(
        default=None, description="true re-enables a disabled endpoint and clears its failures."
    )

    _events = field_validator("events")(_check_events)


class WebhookRead(ReadSchema):
    id: uuid.UUID
    url: str
    description: str | None
    events: list[str]
    active: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The signing secret. Shown now and never again: store it safely."
    )


class WebhookDeliveryRead(ReadSchema):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When an open delivery is tried next.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None = Field(description="An excerpt of the last failure.")
    completed_at: datetime | None
    created_at: datetime
