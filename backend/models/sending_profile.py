"""SMTP sending profiles for phishing simulations: a company's own mail relay settings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey


class SmtpSecurity(StrEnum):
    starttls = "starttls"
    tls = "tls"
    none = "none"


class SendingProfile(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "sending_profiles"

    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[SmtpSecurity] = mapped_column(
        Enum(SmtpSecurity, native_enum=False, length=10, validate_strings=True)
    )
    username: Mapped[str | None] = mapped_column(String(320))
    # Fernet, keyed per purpose from the server secret (core.crypto); never returned.
    password_encrypted: Mapped[str | None] = mapped_column(String(1000))
    from_address: Mapped[str] = mapped_column(String(320))
    # Extra headers added to every message (values may use template variables).
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    messages_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    # The rate limit's current one-minute window, shared by every worker (the claim
    # updates it in the same statement that checks it).
    rate_window_start: Mapped[datetime | None] = mapped_column(default=None)
    rate_window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def has_password(self) -> bool:
        return self.password_encrypted is not None
