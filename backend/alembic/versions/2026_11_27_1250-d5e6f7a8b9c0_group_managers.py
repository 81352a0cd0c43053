"""group_managers: managers see the people of the groups they manage

Revision ID: d5e6f7a8b9c0
Revises: c4d5e6f7a8b9
Create Date: 2026-11-27 12:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from core import rls

revision: str = "d5e6f7a8b9c0"
down_revision: str | None = "c4d5e6f7a8b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_managers",
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_group_managers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_managers_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_managers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_managers")),
    )
    op.create_index(op.f("ix_group_managers_company_id"), "group_managers", ["company_id"])
    op.create_index(op.f("ix_group_managers_user_id"), "group_managers", ["user_id"])
    rls.apply(op.execute, op.get_bind().dialect.name, rls.enable_statements("group_managers"))


def downgrade() -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, rls.disable_statements("group_managers"))
    op.drop_index(op.f("ix_group_managers_user_id"), table_name="group_managers")
    op.drop_index(op.f("ix_group_managers_company_id"), table_name="group_managers")
    op.drop_table("group_managers")
