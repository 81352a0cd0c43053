"""row-level security on every tenant table (PostgreSQL)

Revision ID: b3c1d2e4f5a6
Revises: 7622de90d696
Create Date: 2026-11-27 12:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op
from core import rls

revision: str = "b3c1d2e4f5a6"
down_revision: str | None = "7622de90d696"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "refresh_tokens", "user_tokens", "recovery_codes", "api_keys")


def _run(statements: list[str]) -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, statements)


def upgrade() -> None:
    for table in TABLES:
        _run(rls.enable_statements(table))
    _run(rls.enable_statements("audit_logs", nullable_company=True))


def downgrade() -> None:
    for table in (*TABLES, "audit_logs"):
        _run(rls.disable_statements(table))
