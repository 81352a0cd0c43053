"""Landing pages: what a recipient sees after clicking a simulated phish."""

from __future__ import annotations

from sqlalchemy import Boolean, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey


class LandingPage(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "landing_pages"

    name: Mapped[str] = mapped_column(String(200))
    # Sanitized on save: no script, no event handler, no javascript: URL.
    html: Mapped[str] = mapped_column(Text)
    # Record that a form was submitted and which fields (never a password's value).
    capture_submissions: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Also keep the values of non-password fields (off by default: they are personal data).
    capture_values: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    redirect_url: Mapped[str | None] = mapped_column(String(2000))
