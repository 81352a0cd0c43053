"""training campaigns and their durable reminders; enrollments point at their campaign

Revision ID: 4b926d708d37
Revises: 3f8a61d0b7c2
Create Date: 2026-11-27 16:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op
from core import rls

revision: str = "4b926d708d37"
down_revision: str | None = "3f8a61d0b7c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("training_campaigns", "training_reminders")


def _rls(statements: list[str]) -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, statements)


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            name,
            models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        )
        for name in ("created_at", "updated_at")
    ]


def _company_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id"],
        ["companies.id"],
        name=f"fk_{table}_company_id_companies",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "training_campaigns",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "active",
                "archived",
                name="trainingcampaignstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("course_ids", sa.JSON(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("user_ids", sa.JSON(), nullable=False),
        sa.Column("starts_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_days", sa.Integer(), nullable=True),
        sa.Column("auto_enroll", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("reminders", sa.JSON(), nullable=False),
        sa.Column("started_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("enrolled_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        _company_fk("training_campaigns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_campaigns")),
    )
    op.create_index(op.f("ix_training_campaigns_company_id"), "training_campaigns", ["company_id"])
    op.create_table(
        "training_reminders",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "at_start",
                "before_due",
                "overdue",
                "escalation",
                name="reminderkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "failed",
                "skipped",
                name="reminderstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("send_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.Uuid(), nullable=True),
        sa.Column("lease_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["training_campaigns.id"],
            name=op.f("fk_training_reminders_campaign_id_training_campaigns"),
            ondelete="CASCADE",
        ),
        _company_fk("training_reminders"),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_training_reminders_enrollment_id_enrollments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_training_reminders_recipient_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_reminders")),
        sa.UniqueConstraint(
            "enrollment_id",
            "kind",
            "occurrence",
            name=op.f("uq_training_reminders_enrollment_id_kind_occurrence"),
        ),
    )
    op.create_index(
        op.f("ix_training_reminders_campaign_id"), "training_reminders", ["campaign_id"]
    )
    op.create_index(op.f("ix_training_reminders_company_id"), "training_reminders", ["company_id"])
    op.create_index("ix_training_reminders_due", "training_reminders", ["status", "send_at"])
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_enrollments_training_campaign_id_training_campaigns",
            "training_campaigns",
            ["training_campaign_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Workers find which companies have campaigns to run or reminders due through the
    # read-only worker_scan policy; everything after that runs bound to each company.
    for table in TABLES:
        _rls(rls.enable_statements(table, worker_scan=True))


def downgrade() -> None:
    for table in TABLES:
        _rls(rls.disable_statements(table, worker_scan=True))
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_enrollments_training_campaign_id_training_campaigns", type_="foreignkey"
        )
    op.drop_index("ix_training_reminders_due", table_name="training_reminders")
    op.drop_index(op.f("ix_training_reminders_company_id"), table_name="training_reminders")
    op.drop_index(op.f("ix_training_reminders_campaign_id"), table_name="training_reminders")
    op.drop_table("training_reminders")
    op.drop_index(op.f("ix_training_campaigns_company_id"), table_name="training_campaigns")
    op.drop_table("training_campaigns")
