"""campaign stats: indexes for the medians of time to click and time to report

Revision ID: 5e0c81a9d3f2
Revises: cd5fa42c1795
Create Date: 2026-12-02 15:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "5e0c81a9d3f2"
down_revision: str | None = "cd5fa42c1795"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (("click", "clicked_at"), ("report", "reported_at"))


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for name, column in _INDEXES:
        op.create_index(
            f"ix_phishing_recipients_to_{name}",
            "phishing_recipients",
            ["campaign_id", sa.text(f"date_part('epoch', {column} - sent_at)")],
            postgresql_where=sa.text(f"{column} IS NOT NULL AND sent_at IS NOT NULL"),
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for name, _ in _INDEXES:
        op.drop_index(f"ix_phishing_recipients_to_{name}", table_name="phishing_recipients")
