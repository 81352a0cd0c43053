"""users: index (company_id, id) for paging through one company's people

Revision ID: c4d5e6f7a8b9
Revises: f6d12a24e35c
Create Date: 2026-11-27 12:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4d5e6f7a8b9"
down_revision: str | None = "f6d12a24e35c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_company_id_id", "users", ["company_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_company_id_id", table_name="users")
