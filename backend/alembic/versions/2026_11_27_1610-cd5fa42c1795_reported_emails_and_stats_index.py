"""reported emails: real suspected phish reported by employees; automated-events index

Revision ID: cd5fa42c1795
Revises: 4b926d708d37
Create Date: 2026-11-27 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import models.base
from alembic import op
from core import rls

revision: str = "cd5fa42c1795"
down_revision: str | None = "4b926d708d37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reported_emails",
        sa.Column("reporter_user_id", sa.Uuid(), nullable=True),
        sa.Column("reporter_email", sa.String(length=320), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("from_address", sa.String(length=500), nullable=True),
        sa.Column("reply_to", sa.String(length=500), nullable=True),
        sa.Column("return_path", sa.String(length=500), nullable=True),
        sa.Column("subject", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=True),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("headers_only", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "triaged",
                "malicious",
                "spam",
                "benign",
                "closed",
                name="reportstatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
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
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_reported_emails_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_reported_emails_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_user_id"],
            ["users.id"],
            name=op.f("fk_reported_emails_reporter_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reported_emails")),
    )
    with op.batch_alter_table("reported_emails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reported_emails_company_id"), ["company_id"], unique=False
        )
    _rls(rls.enable_statements("reported_emails") + _recipient_policies(once=True))
    with op.batch_alter_table("phishing_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_phishing_events_automated",
            ["campaign_id", "automation_reason", "recipient_id", "company_id"],
            unique=False,
            postgresql_where=sa.text("automated"),
            sqlite_where=sa.text("automated"),
        )


def _once(expression: str) -> str:
    return f"(SELECT {expression})"


# phishing_recipients has three permissive policies, OR-ed: PostgreSQL evaluates each
# current_setting() per row, which measured ~100 ms of a 100,000-recipient stats scan.
# The same conditions as scalar subqueries are evaluated once per query (InitPlans).
_RECIPIENT_POLICIES = (
    # name, condition, also WITH CHECK
    ("tenant_isolation", f"company_id = {rls.CURRENT_COMPANY}", True),
    ("worker_access", rls.WORKER_ON, True),
    ("auth_lookup", rls.LOOKUP_ON, False),
)


def _recipient_policies(*, once: bool) -> list[str]:
    statements = []
    for name, condition, check in _RECIPIENT_POLICIES:
        if once:
            left, _, right = condition.partition(" = ")
            condition = (
                f"{left} = {_once(right)}"
                if name == "tenant_isolation"
                else f"{_once(left)} = {right}"
            )
        clause = f"USING ({condition})" + (f" WITH CHECK ({condition})" if check else "")
        statements.append(f"ALTER POLICY {name} ON phishing_recipients {clause}")
    return statements


def _rls(statements: list[str]) -> None:
    rls.apply(op.execute, op.get_bind().dialect.name, statements)


def downgrade() -> None:
    with op.batch_alter_table("phishing_events", schema=None) as batch_op:
        batch_op.drop_index("ix_phishing_events_automated")
    _rls(rls.disable_statements("reported_emails") + _recipient_policies(once=False))
    with op.batch_alter_table("reported_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reported_emails_company_id"))
    op.drop_table("reported_emails")
