"""landing_pages: pages shown after a click in a simulation

Revision ID: a8b9c0d1e2f3
Revises: f7a8b9c0d1e2
Create Date: 2026-11-27 13:25:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op
from core import rls

revision: str = "a8b9c0d1e2f3"
down_revision: str | None = "f7a8b9c0d1e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "landing_pages",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("capture_submissions", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("capture_values", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("redirect_url", sa.String(length=2000), nullable=True),
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
            name=op.f("fk_landing_pages_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_landing_pages")),
    )
    op.create_index(op.f("ix_landing_pages_company_id"), "landing_pages", ["company_id"])
    op.create_index(op.f("ix_landing_pages_deleted_at"), "landing_pages", ["deleted_at"])
    rls.apply(op.execute, op.get_bind().dialect.name, rls.enable_statements("landing_pages"))


def downgrade() -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, rls.disable_statements("landing_pages"))
    op.drop_index(op.f("ix_landing_pages_deleted_at"), table_name="landing_pages")
    op.drop_index(op.f("ix_landing_pages_company_id"), table_name="landing_pages")
    op.drop_table("landing_pages")
