"""Company API keys for integrations. The key is shown once; only its hash is kept."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey


class ApiKeyScope(StrEnum):
    read = "read"
    read_write = "read_write"


class ApiKey(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, kept in clear so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[ApiKeyScope] = mapped_column(
        Enum(ApiKeyScope, native_enum=False, length=20, validate_strings=True)
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
