from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, EmailStr, Field, field_validator

from models.user import Role, UserStatus
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

Name = Annotated[str, Field(min_length=1, max_length=100)]
Attribute = Annotated[str, Field(min_length=1, max_length=200)]


def _valid_timezone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError("unknown time zone; use an IANA name such as Europe/Paris")
    return value


def _lower_email(value: str) -> str:
    return value.strip().lower()


Timezone = Annotated[str | None, AfterValidator(_valid_timezone)]
Email = Annotated[EmailStr, AfterValidator(_lower_email)]
CustomAttributes = Annotated[dict[str, str | int | float | bool | None], Field(max_length=50)]


class UserCreate(CreateSchema):
    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    department: Attribute | None = None
    job_title: Attribute | None = None
    location: Attribute | None = None
    manager_id: uuid.UUID | None = None
    timezone: Timezone = None
    locale: Annotated[str, Field(min_length=2, max_length=16)] | None = None
    role: Role = Role.learner
    custom_attributes: CustomAttributes = Field(default_factory=dict)
    send_invitation: bool = True

    @field_validator("role")
    @classmethod
    def _not_platform(cls, value: Role) -> Role:
        if value is Role.platform_admin:
            raise ValueError("platform_admin cannot be given through the API")
        return value


class UserUpdate(UpdateSchema):
    first_name: Name | None = None
    last_name: Name | None = None
    department: Attribute | None = None
    job_title: Attribute | None = None
    location: Attribute | None = None
    manager_id: uuid.UUID | None = None
    timezone: Timezone = None
    locale: Annotated[str, Field(min_length=2, max_length=16)] | None = None
    role: Role | None = None
    status: UserStatus | None = None
    custom_attributes: CustomAttributes | None = None

    @field_validator("role")
    @classmethod
    def _not_platform(cls, value: Role | None) -> Role | None:
        if value is Role.platform_admin:
            raise ValueError("platform_admin cannot be given through the API")
        return value


class ProfileUpdate(UpdateSchema):
    """What people may change about themselves (not their role, email or status)."""

    first_name: Name | None = None
    last_name: Name | None = None
    timezone: Timezone = None
    locale: Annotated[str, Field(min_length=2, max_length=16)] | None = None


class UserRead(ReadSchema):
    id: uuid.UUID
    company_id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    full_name: str
    department: str | None
    job_title: str | None
    location: str | None
    manager_id: uuid.UUID | None
    timezone: str | None
    locale: str | None
    role: Role
    status: UserStatus
    custom_attributes: dict[str, Any]
    has_2fa: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PasswordChange(CreateSchema):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=1, max_length=256)]
