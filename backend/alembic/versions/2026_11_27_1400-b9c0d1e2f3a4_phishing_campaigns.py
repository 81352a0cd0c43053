"""phishing campaigns: campaigns, their recipients (the durable sends), profile rate windows

Revision ID: b9c0d1e2f3a4
Revises: a8b9c0d1e2f3
Create Date: 2026-11-27 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op
from core import rls

revision: str = "b9c0d1e2f3a4"
down_revision: str | None = "a8b9c0d1e2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phishing_campaigns",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "scheduled",
                "running",
                "paused",
                "completed",
                "cancelled",
                name="campaignstatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("template_ids", sa.JSON(), nullable=False),
        sa.Column("landing_page_id", sa.Uuid(), nullable=True),
        sa.Column("sending_profile_id", sa.Uuid(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("user_ids", sa.JSON(), nullable=False),
        sa.Column("launch_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("send_window_minutes", sa.Integer(), nullable=False),
        sa.Column("business_hours", sa.JSON(), nullable=True),
        sa.Column("complete_after_days", sa.Integer(), nullable=False),
        sa.Column("remediation_course_id", sa.Uuid(), nullable=True),
        sa.Column("launched_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("deleted_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_phishing_campaigns_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["landing_page_id"],
            ["landing_pages.id"],
            name=op.f("fk_phishing_campaigns_landing_page_id_landing_pages"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["sending_profile_id"],
            ["sending_profiles.id"],
            name=op.f("fk_phishing_campaigns_sending_profile_id_sending_profiles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phishing_campaigns")),
    )
    with op.batch_alter_table("phishing_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phishing_campaigns_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_phishing_campaigns_deleted_at"), ["deleted_at"], unique=False
        )

    op.create_table(
        "phishing_recipients",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("sending_profile_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column(
            "send_status",
            sa.Enum(
                "pending",
                "claimed",
                "handover",
                "sent",
                "failed",
                "unknown",
                "cancelled",
                name="sendstatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("send_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.Uuid(), nullable=True),
        sa.Column("lease_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["phishing_campaigns.id"],
            name=op.f("fk_phishing_recipients_campaign_id_phishing_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_phishing_recipients_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sending_profile_id"],
            ["sending_profiles.id"],
            name=op.f("fk_phishing_recipients_sending_profile_id_sending_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["email_templates.id"],
            name=op.f("fk_phishing_recipients_template_id_email_templates"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_phishing_recipients_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phishing_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "user_id", name=op.f("uq_phishing_recipients_campaign_id_user_id")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_phishing_recipients_token")),
    )
    with op.batch_alter_table("phishing_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phishing_recipients_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_phishing_recipients_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            "ix_phishing_recipients_due", ["send_status", "send_at"], unique=False
        )

    with op.batch_alter_table("sending_profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rate_window_start", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("rate_window_count", sa.Integer(), server_default="0", nullable=False)
        )
    _rls(
        rls.enable_statements("phishing_campaigns")
        + rls.enable_statements("phishing_recipients")
        + rls.worker_statements("phishing_campaigns")
        + rls.worker_statements("phishing_recipients")
        + rls.worker_statements("sending_profiles")
    )


def _rls(statements: list[str]) -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, statements)


def downgrade() -> None:
    _rls(
        rls.drop_worker_statements("sending_profiles")
        + rls.drop_worker_statements("phishing_recipients")
        + rls.drop_worker_statements("phishing_campaigns")
        + rls.disable_statements("phishing_recipients")
        + rls.disable_statements("phishing_campaigns")
    )
    with op.batch_alter_table("sending_profiles", schema=None) as batch_op:
        batch_op.drop_column("rate_window_count")
        batch_op.drop_column("rate_window_start")

    with op.batch_alter_table("phishing_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_phishing_recipients_due")
        batch_op.drop_index(batch_op.f("ix_phishing_recipients_company_id"))
        batch_op.drop_index(batch_op.f("ix_phishing_recipients_campaign_id"))

    op.drop_table("phishing_recipients")
    with op.batch_alter_table("phishing_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phishing_campaigns_deleted_at"))
        batch_op.drop_index(batch_op.f("ix_phishing_campaigns_company_id"))

    op.drop_table("phishing_campaigns")
