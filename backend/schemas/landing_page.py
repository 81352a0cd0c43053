from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, Field

from schemas.base import CreateSchema, ReadSchema, UpdateSchema

Html = Annotated[str, Field(min_length=1, max_length=1_000_000)]


class LandingPageCreate(CreateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    html: Html
    capture_submissions: bool = True
    capture_values: bool = Field(
        default=False,
        description="Also keep values of non-password fields. Password values are never kept.",
    )
    redirect_url: AnyHttpUrl | None = None


class LandingPageImport(CreateSchema):
    url: AnyHttpUrl
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    capture_submissions: bool = True
    capture_values: bool = False
    redirect_url: AnyHttpUrl | None = None


class LandingPageUpdate(UpdateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    html: Html | None = None
    capture_submissions: bool | None = None
    capture_values: bool | None = None
    redirect_url: AnyHttpUrl | None = None


class LandingPageRead(ReadSchema):
    id: uuid.UUID
    name: str
    html: str = Field(description="As stored: sanitized.")
    capture_submissions: bool
    capture_values: bool
    redirect_url: str | None
    created_at: datetime
    updated_at: datetime
