"""Groups of users: static (members listed) or rule-based (members follow user attributes)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey


class GroupKind(StrEnum):
    static = "static"
    rule = "rule"


class Group(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "groups"
    __table_args__ = (
        Index(
            "uq_groups_company_id_name_live",
            "company_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    kind: Mapped[GroupKind] = mapped_column(
        Enum(GroupKind, native_enum=False, length=10, validate_strings=True)
    )
    # For rule groups: {"match": "all" | "any", "conditions": [{attribute, operator, value}]}
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class GroupManager(TenantScoped, Base):
    """A manager who sees the people, and later the reports, of this group."""

    __tablename__ = "group_managers"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class GroupMember(TenantScoped, Base):
    """A member of a static group."""

    __tablename__ = "group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
