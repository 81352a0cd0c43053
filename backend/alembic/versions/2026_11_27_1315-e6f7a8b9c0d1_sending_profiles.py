"""sending_profiles: SMTP relays for phishing simulations

Revision ID: e6f7a8b9c0d1
Revises: d5e6f7a8b9c0
Create Date: 2026-11-27 13:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op
from core import rls

revision: str = "e6f7a8b9c0d1"
down_revision: str | None = "d5e6f7a8b9c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sending_profiles",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column(
            "security",
            sa.Enum("starttls", "tls", "none", name="smtpsecurity", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("username", sa.String(length=320), nullable=True),
        sa.Column("password_encrypted", sa.String(length=1000), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("messages_per_minute", sa.Integer(), nullable=False),
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
            name=op.f("fk_sending_profiles_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sending_profiles")),
    )
    op.create_index(op.f("ix_sending_profiles_company_id"), "sending_profiles", ["company_id"])
    op.create_index(op.f("ix_sending_profiles_deleted_at"), "sending_profiles", ["deleted_at"])
    rls.apply(op.execute, op.get_bind().dialect.name, rls.enable_statements("sending_profiles"))


def downgrade() -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, rls.disable_statements("sending_profiles"))
    op.drop_index(op.f("ix_sending_profiles_deleted_at"), table_name="sending_profiles")
    op.drop_index(op.f("ix_sending_profiles_company_id"), table_name="sending_profiles")
    op.drop_table("sending_profiles")
