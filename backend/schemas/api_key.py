from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from models.api_key import ApiKeyScope
from schemas.base import CreateSchema, ReadSchema


class ApiKeyCreate(CreateSchema):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scope: ApiKeyScope = ApiKeyScope.read


class ApiKeyRead(ReadSchema):
    id: uuid.UUID
    name: str
    prefix: str
    scope: ApiKeyScope
    created_by_id: uuid.UUID | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown once: store it now.")
