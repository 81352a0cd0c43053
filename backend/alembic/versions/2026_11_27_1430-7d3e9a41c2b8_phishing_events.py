"""phishing events: append-only tracking events; first open/click/submit/report per recipient

Revision ID: 7d3e9a41c2b8
Revises: 052e73179b93
Create Date: 2026-11-27 14:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op
from core import rls

revision: str = "7d3e9a41c2b8"
down_revision: str | None = "052e73179b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phishing_events",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "opened",
                "clicked",
                "submitted",
                "reported",
                name="eventtype",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("automated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("automation_reason", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["phishing_campaigns.id"],
            name=op.f("fk_phishing_events_campaign_id_phishing_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_phishing_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["phishing_recipients.id"],
            name=op.f("fk_phishing_events_recipient_id_phishing_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phishing_events")),
        info={"append_only": True},
    )
    with op.batch_alter_table("phishing_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_phishing_events_campaign_time", ["campaign_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_phishing_events_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_phishing_events_recipient_id"), ["recipient_id"], unique=False
        )

    with op.batch_alter_table("phishing_recipients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opened_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("clicked_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("submitted_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reported_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
    # Tracking links carry only the recipient's token: it is looked up (read-only) before
    # the company is known, like a credential.
    _rls(
        rls.enable_statements("phishing_events")
        + rls.lookup_statements("phishing_recipients")
        + rls.lookup_statements("phishing_campaigns")
    )


def _rls(statements: list[str]) -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, statements)


def downgrade() -> None:
    _rls(
        rls.drop_lookup_statements("phishing_campaigns")
        + rls.drop_lookup_statements("phishing_recipients")
        + rls.disable_statements("phishing_events")
    )
    with op.batch_alter_table("phishing_recipients", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
        batch_op.drop_column("submitted_at")
        batch_op.drop_column("clicked_at")
        batch_op.drop_column("opened_at")

    with op.batch_alter_table("phishing_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phishing_events_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_phishing_events_company_id"))
        batch_op.drop_index("ix_phishing_events_campaign_time")

    op.drop_table("phishing_events")
