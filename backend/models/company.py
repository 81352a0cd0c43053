"""A company is a tenant: everything else a customer owns hangs from one."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, String
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
