from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from models.company import CompanyStatus
from schemas.base import ReadSchema, UpdateSchema
from schemas.user import Timezone

_DOMAIN = r"^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
Domain = Annotated[str, AfterValidator(str.lower), Field(pattern=_DOMAIN, max_length=253)]


class CompanyUpdate(UpdateSchema):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    email_domains: Annotated[list[Domain], Field(max_length=50)] | None = None
    default_timezone: Timezone = None
    default_locale: Annotated[str, Field(min_length=2, max_length=16)] | None = None
    require_2fa_for_admins: bool | None = None
    # A Jinja2 template (sandboxed) for the page shown after a click or submit in a
    # simulation; variables as the default page's. null restores the default page.
    teachable_moment_html: Annotated[str, Field(min_length=1, max_length=100_000)] | None = None


class CompanyStatusUpdate(UpdateSchema):
    """What the platform admin may change about a customer company."""

    status: CompanyStatus


class CompanyRead(ReadSchema):
    id: uuid.UUID
    name: str
    status: CompanyStatus
    email_domains: list[str]
    default_timezone: str
    default_locale: str
    require_2fa_for_admins: bool
    teachable_moment_html: str | None = None
    created_at: datetime
    updated_at: datetime
