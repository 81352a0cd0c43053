from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from models.group import GroupKind
from schemas.base import CreateSchema, ReadSchema, UpdateSchema
from schemas.user import UserRead

ATTRIBUTES = (
    "department",
    "job_title",
    "location",
    "role",
    "locale",
    "timezone",
    "status",
    "email_domain",
)
_CUSTOM = re.compile(r"^custom\.[A-Za-z0-9_ -]{1,64}$")
Scalar = Annotated[str, Field(min_length=1, max_length=200)]


class Condition(BaseModel):
    """One test on a user attribute, e.g. department eq Finance, or location in [Paris, Lyon].
    `custom.<name>` tests a custom attribute."""

    model_config = {"extra": "forbid"}

    attribute: str
    operator: Literal["eq", "neq", "in", "not_in", "contains"]
    value: Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=200)]

    @field_validator("attribute")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ATTRIBUTES and not _CUSTOM.match(value):
            raise ValueError(
                f"unknown attribute; use one of {', '.join(ATTRIBUTES)} or custom.<name>"
            )
        return value

    @model_validator(mode="after")
    def _value_shape(self) -> Condition:
        many = self.operator in ("in", "not_in")
        if many != isinstance(self.value, list):
            raise ValueError(f"'{self.operator}' takes {'a list' if many else 'a single value'}")
        return self


class RuleSet(BaseModel):
    model_config = {"extra": "forbid"}

    match: Literal["all", "any"] = "all"
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=20)]


class GroupCreate(CreateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    kind: GroupKind = GroupKind.static
    rules: RuleSet | None = None
    member_ids: Annotated[list[uuid.UUID], Field(max_length=10_000)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_matches(self) -> GroupCreate:
        if self.kind is GroupKind.rule and self.rules is None:
            raise ValueError("a rule-based group needs rules")
        if self.kind is GroupKind.static and self.rules is not None:
            raise ValueError("a static group has members, not rules")
        if self.kind is GroupKind.rule and self.member_ids:
            raise ValueError("members of a rule-based group follow its rules")
        return self


class GroupUpdate(UpdateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    rules: RuleSet | None = None


class GroupRead(ReadSchema):
    id: uuid.UUID
    name: str
    description: str | None
    kind: GroupKind
    rules: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class GroupDetail(GroupRead):
    member_count: int
    manager_ids: list[uuid.UUID] = Field(description="Managers who see this group's people.")


class MemberIds(CreateSchema):
    user_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10_000)]


class ManagerIds(CreateSchema):
    user_ids: Annotated[list[uuid.UUID], Field(max_length=100)]


class MemberRead(BaseModel):
    user: UserRead
    reasons: list[str] = Field(description="Why this person is a member.")
