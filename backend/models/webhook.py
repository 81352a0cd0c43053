"""Outgoing webhooks: the endpoints a company registers, and one durable delivery row per
(event, endpoint), written in the transaction of the action that caused the event."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, SoftDelete, TenantScoped, Timestamps, UUIDPrimaryKey

# The events a company may subscribe to, with what each means. `webhook.test` is sent only
# on request (`POST /webhooks/{id}/test`), to that one endpoint, and cannot be subscribed to.
EVENT_TYPES: dict[str, str] = {
    "phishing.email_sent": "A simulated phishing email was accepted by the mail server.",
    "phishing.email_opened": "A recipient opened a simulated phishing email (first open).",
    "phishing.link_clicked": "A recipient clicked the link in a simulated phishing email.",
    "phishing.data_submitted": "A recipient submitted a landing page's form (never a password).",
    "phishing.email_reported": "A recipient reported a simulated phishing email.",
    "phishing.campaign_completed": "A phishing campaign finished.",
    "training.enrollment_completed": "A learner completed an assigned course.",
    "report.received": "An employee reported a real suspicious email.",
}
TEST_EVENT = "webhook.test"


def subscribes(patterns: list[str], event_type: str) -> bool:
    """Whether an endpoint listening to `patterns` wants `event_type`."""
    family = event_type.split(".", 1)[0]
    return any(p in (event_type, "*", f"{family}.*") for p in patterns)


class WebhookEndpoint(UUIDPrimaryKey, Timestamps, SoftDelete, TenantScoped, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    # Event names (`phishing.link_clicked`) or patterns (`phishing.*`, `*`).
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None]
    # Fernet, keyed per purpose from the server secret (core.crypto); shown once, never again.
    secret_encrypted: Mapped[str] = mapped_column(String(1000))
    # Failed attempts since the last success, and when that run of failures began.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]


class DeliveryStatus(StrEnum):
    pending = "pending"  # not tried yet; due at `next_attempt_at`
    delivering = "delivering"  # claimed by a worker until `lease_until`
    succeeded = "succeeded"
    failed = "failed"  # the last attempt failed; retried at `next_attempt_at`
    abandoned = "abandoned"  # out of attempts, or the endpoint was disabled or deleted


# Rows a worker may still have to send.
OPEN_STATUSES = (DeliveryStatus.pending, DeliveryStatus.failed, DeliveryStatus.delivering)


_OPEN = "status IN ('pending', 'failed', 'delivering')"


class WebhookDelivery(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        # What the worker looks for: due open rows, and claimed rows whose lease ran out.
        # Partial, so finished deliveries (nearly all rows) cost the index nothing.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        # An endpoint's deliveries, newest first.
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    # The whole envelope `{"id", "type", "created_at", "company_id", "data"}`, as sent.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=12, validate_strings=True),
        default=DeliveryStatus.pending,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    # A short excerpt of the receiver's answer or of the connection error; never more.
    last_error: Mapped[str | None] = mapped_column(String(500))
    completed_at: Mapped[datetime | None]
