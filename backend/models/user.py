"""People of a company: admins, managers and learners (and the operator's platform admins)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey


class Role(StrEnum):
    platform_admin = "platform_admin"
    admin = "admin"
    manager = "manager"
    learner = "learner"


class UserStatus(StrEnum):
    invited = "invited"
    active = "active"
    disabled = "disabled"


class User(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are stored lower-cased, so a plain unique index is case-insensitive; a
        # deleted user's address may be used again.
        Index(
            "uq_users_email_live",
            "email",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # Keyset pagination inside one company: newest first without sorting the company.
        Index("ix_users_company_id_id", "company_id", "id"),
        Index("ix_users_company_id_department", "company_id", "department"),
        Index("ix_users_company_id_location", "company_id", "location"),
    )

    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    timezone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, validate_strings=True), default=Role.learner
    )
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=20, validate_strings=True),
        default=UserStatus.invited,
    )
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Access tokens issued before this instant are refused (logout-all, password change,
    # disable): the one check that ends every session at once.
    sessions_valid_after: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    totp_secret_encrypted: Mapped[str | None] = mapped_column(String(500), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # The time step of the last accepted code: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None
