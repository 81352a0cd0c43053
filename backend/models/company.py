"""A company is a tenant: everything else a customer owns hangs from one."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, Timestamps, UUIDPrimaryKey


class CompanyStatus(StrEnum):
    active = "active"
    suspended = "suspended"


class Company(UUIDPrimaryKey, Timestamps, SoftDelete, Base):
    __tablename__ = "companies"

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CompanyStatus] = mapped_column(
        Enum(CompanyStatus, native_enum=False, length=20, validate_strings=True),
        default=CompanyStatus.active,
    )
    # Mail domains the company owns; used to tell its own people from outsiders.
    email_domains: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    default_timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    default_locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    require_2fa_for_admins: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # The operator's own company, home of the platform admins; never listed as a customer.
    is_platform: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The company's own teachable-moment page (a sandboxed Jinja2 template); None: ours.
    teachable_moment_html: Mapped[str | None] = mapped_column(Text, default=None)

    @property
    def is_active(self) -> bool:
        return self.status is CompanyStatus.active and self.deleted_at is None
