"""companies.teachable_moment_html: a company's own teachable-moment page

Revision ID: 3f8a61d0b7c2
Revises: 7d3e9a41c2b8
Create Date: 2026-11-27 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "3f8a61d0b7c2"
down_revision: str | None = "7d3e9a41c2b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("teachable_moment_html", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("teachable_moment_html")
