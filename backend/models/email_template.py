"""Phishing email templates: a company's own lures (the platform's live in files)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey


class EmailTemplate(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "email_templates"

    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    envelope_sender: Mapped[str | None] = mapped_column(String(320))
    difficulty: Mapped[int] = mapped_column(Integer, default=3)
    language: Mapped[str] = mapped_column(String(16), default="en")
    # What a trained eye would notice; shown on the teachable-moment page.
    red_flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
