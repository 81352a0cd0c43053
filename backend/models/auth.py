"""Credentials that outlive a request: refresh tokens, emailed tokens, recovery codes.

Only hashes are stored (HMAC-SHA256 keyed by the server secret, see core.crypto); the
plain values exist once, in the response or the email that carries them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey


class RefreshToken(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    """One link of a refresh-token family. Each use rotates it: the presented token is marked
    used and a new one is issued in the same family. A used token presented again means it
    was stolen, and the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]  # idle limit, moved forward by each rotation
    family_expires_at: Mapped[datetime]  # absolute limit of the whole login
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))


class TokenPurpose(StrEnum):
    invitation = "invitation"
    password_reset = "password_reset"  # noqa: S105 - a purpose name
    mfa_challenge = "mfa_challenge"


class UserToken(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    """A single-use token sent to a person: an invitation, a password reset, or the
    short-lived challenge between a password and a second factor."""

    __tablename__ = "user_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, length=20, validate_strings=True)
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)


class RecoveryCode(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
