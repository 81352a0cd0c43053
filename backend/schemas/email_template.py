from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from schemas.base import CreateSchema, ReadSchema, UpdateSchema

Body = Annotated[str, Field(max_length=500_000)]
Flags = Annotated[list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=20)]


class EmailTemplateCreate(CreateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    html: Body | None = None
    text: Body | None = None
    envelope_sender: Annotated[str, Field(max_length=320)] | None = None
    difficulty: Annotated[int, Field(ge=1, le=5)] = 3
    language: Annotated[str, Field(min_length=2, max_length=16)] = "en"
    red_flags: Flags = Field(default_factory=list)


class EmailTemplateUpdate(UpdateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    subject: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    html: Body | None = None
    text: Body | None = None
    envelope_sender: Annotated[str, Field(max_length=320)] | None = None
    difficulty: Annotated[int, Field(ge=1, le=5)] | None = None
    language: Annotated[str, Field(min_length=2, max_length=16)] | None = None
    red_flags: Flags | None = None


class EmailTemplateRead(ReadSchema):
    id: uuid.UUID
    name: str
    subject: str
    html: str | None
    text: str | None
    envelope_sender: str | None
    difficulty: int
    language: str
    red_flags: list[str]
    created_at: datetime
    updated_at: datetime


class CatalogTemplateRead(BaseModel):
    slug: str
    source: Literal["platform"] = "platform"
    name: str
    subject: str
    html: str
    text: str
    difficulty: int
    language: str
    red_flags: list[str]


class TemplatePreview(BaseModel):
    subject: str
    html: str | None
    text: str | None
