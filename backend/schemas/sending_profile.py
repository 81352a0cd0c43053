from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, SecretStr, field_validator

from models.sending_profile import SmtpSecurity
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9.-]+$|^\[?[0-9A-Fa-f:.]+\]?$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
Host = Annotated[str, Field(min_length=1, max_length=253)]
Headers = Annotated[dict[str, Annotated[str, Field(max_length=500)]], Field(max_length=20)]
RESERVED_HEADERS = {"from", "to", "subject", "message-id", "date", "cc", "bcc", "content-type"}


def _check_headers(value: dict[str, str] | None) -> dict[str, str] | None:
    for name, text in (value or {}).items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"header name '{name}' must be letters, digits and dashes")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header '{name}' is set by Vigil itself")
        if "\r" in text or "\n" in text:
            raise ValueError(f"header '{name}' must be on one line")
    return value


class SendingProfileCreate(CreateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    host: Host
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: SmtpSecurity = SmtpSecurity.starttls
    username: Annotated[str, Field(max_length=320)] | None = None
    password: Annotated[SecretStr, Field(max_length=500)] | None = None
    from_address: Annotated[str, Field(min_length=3, max_length=320)]
    headers: Headers = Field(default_factory=dict)
    messages_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 60

    _headers = field_validator("headers")(_check_headers)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError("not a host name or IP address")
        return value.strip("[]").lower()


class SendingProfileUpdate(UpdateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    host: Host | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    security: SmtpSecurity | None = None
    username: Annotated[str, Field(max_length=320)] | None = None
    password: Annotated[SecretStr, Field(max_length=500)] | None = None
    from_address: Annotated[str, Field(min_length=3, max_length=320)] | None = None
    headers: Headers | None = None
    messages_per_minute: Annotated[int, Field(ge=1, le=10_000)] | None = None

    _headers = field_validator("headers")(_check_headers)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError("not a host name or IP address")
        return value.strip("[]").lower() if value else value


class SendingProfileRead(ReadSchema):
    id: uuid.UUID
    name: str
    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    has_password: bool = Field(description="The password itself is never returned.")
    from_address: str
    headers: dict[str, str]
    messages_per_minute: int
    created_at: datetime
    updated_at: datetime


class TestSendRequest(CreateSchema):
    to: EmailStr


class TestSendResult(BaseModel):
    delivered: bool
    server_reply: str = Field(description="What the SMTP server answered.")
