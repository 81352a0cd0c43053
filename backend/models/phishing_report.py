"""Suspicious emails reported by employees that were not one of our simulations.

A report of one of our own simulation emails is not kept here: it is a `reported` tracking
event of the recipient (`models.phishing_event`). What lands here is, as far as we can
tell, a real suspected phish for the security team to look at.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantScoped, Timestamps, UUIDPrimaryKey


class ReportStatus(StrEnum):
    new = "new"
    triaged = "triaged"  # someone is looking at it
    malicious = "malicious"  # confirmed phish: act on it (block sender, purge mailboxes)
    spam = "spam"  # unwanted, not dangerous
    benign = "benign"  # legitimate mail, a false alarm
    closed = "closed"


class ReportedEmail(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "reported_emails"

    # Who reported it: a signed-in user, or an integration (API key) naming a user.
    reporter_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reporter_email: Mapped[str | None] = mapped_column(String(320), default=None)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )

    # What the message says about itself (attacker-controlled: shown as text, never trusted).
    from_address: Mapped[str | None] = mapped_column(String(500), default=None)
    reply_to: Mapped[str | None] = mapped_column(String(500), default=None)
    return_path: Mapped[str | None] = mapped_column(String(500), default=None)
    subject: Mapped[str | None] = mapped_column(String(1000), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)  # its Date header
    message_id: Mapped[str | None] = mapped_column(String(500), default=None)
    # [url, ...] from the text and HTML bodies, deduplicated, capped.
    urls: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # [{"filename", "content_type", "size", "sha256"}, ...]; never opened or run.
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The message as reported (or only its headers), up to the report size cap.
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_size: Mapped[int] = mapped_column(Integer)
    headers_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    status: Mapped[ReportStatus] = mapped_column(
        Enum(ReportStatus, native_enum=False, length=10, validate_strings=True),
        default=ReportStatus.new,
    )
    notes: Mapped[str | None] = mapped_column(Text, default=None)
