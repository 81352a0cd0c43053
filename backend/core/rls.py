"""PostgreSQL row-level security: the backstop behind `db.scoping`.

Every tenant table gets ENABLE + FORCE ROW LEVEL SECURITY and a policy that shows and
accepts only rows of the company in `app.company_id` (set per transaction by
`db.scoping.bind_tenant`). No company set means no rows. The application connects as a role
that owns no table and has no BYPASSRLS, so the policies hold for every query it runs.

A few credential tables must be searchable before the company is known (login by email,
refresh token or API key by hash). They also get a read-only `auth_lookup` policy that is
open only while `app.auth_lookup` is 'on', which `db.scoping.auth_lookup` sets around those
few queries and clears at once.

Durable work (phishing sends, and the rows they need) is claimed by workers before the
company is known. Those tables get a `worker_access` policy open only while `app.worker`
is 'on', which `db.scoping.worker_access` sets around the claim and clears at once; the
work itself then runs bound to its company like a request.

Queues of durable rows (webhook deliveries, …) are polled by workers that do not yet know
which companies have work due. Such a table may get a read-only `worker_scan` policy, open
only while `app.worker_scan` is 'on' (`db.scoping.worker_scan`), for the one query that
finds those companies; the claim and everything after it run bound to each company.

Platform content (courses and their modules, lessons and published versions) belongs to
the operator's own company and carries `is_platform = true`. Those tables are created with
`platform_shared=True`: every company may read the platform rows, and only the operator's
company may write them (the WITH CHECK looks the writer's company up in `companies`).

The public certificate check reads `certificates` by its verification code before any
company is known, through the same `auth_lookup` policy as the credential tables.

Migrations call these helpers with explicit table names; `tests/db/test_rls.py` checks the
catalog so that a new tenant table cannot be left without them.
"""

from __future__ import annotations

from collections.abc import Callable

CURRENT_COMPANY = "nullif(current_setting('app.company_id', true), '')::uuid"
LOOKUP_ON = "current_setting('app.auth_lookup', true) = 'on'"
WORKER_ON = "current_setting('app.worker', true) = 'on'"
WORKER_SCAN_ON = "current_setting('app.worker_scan', true) = 'on'"

# Tables read by credential before the company is known.
LOOKUP_TABLES = frozenset({"users", "refresh_tokens", "user_tokens", "api_keys", "certificates"})
# Constant text, no input in it.
PLATFORM_WRITER = (
    f"(NOT is_platform OR EXISTS (SELECT 1 FROM companies c WHERE c.id = {CURRENT_COMPANY} "  # noqa: S608
    "AND c.is_platform))"
)


def enable_statements(
    table: str,
    *,
    nullable_company: bool = False,
    worker_scan: bool = False,
    platform_shared: bool = False,
) -> list[str]:
    check = (
        f"company_id IS NOT DISTINCT FROM {CURRENT_COMPANY}"
        if nullable_company
        else f"company_id = {CURRENT_COMPANY}"
    )
    if platform_shared:
        check = f"{check} AND {PLATFORM_WRITER}"
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (company_id = {CURRENT_COMPANY}) WITH CHECK ({check})",
    ]
    if platform_shared:
        # Read-only for everyone else: UPDATE and DELETE still answer to tenant_isolation.
        statements.append(f"CREATE POLICY platform_read ON {table} FOR SELECT USING (is_platform)")
    if table in LOOKUP_TABLES:
        statements.append(f"CREATE POLICY auth_lookup ON {table} FOR SELECT USING ({LOOKUP_ON})")
    if worker_scan:
        statements.append(
            f"CREATE POLICY worker_scan ON {table} FOR SELECT USING ({WORKER_SCAN_ON})"
        )
    return statements


def disable_statements(table: str, *, worker_scan: bool = False) -> list[str]:
    statements = [
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
        f"DROP POLICY IF EXISTS platform_read ON {table}",
    ]
    if worker_scan:
        statements.append(f"DROP POLICY IF EXISTS worker_scan ON {table}")
    if table in LOOKUP_TABLES:
        statements.append(f"DROP POLICY IF EXISTS auth_lookup ON {table}")
    statements += [
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]
    return statements


def lookup_statements(table: str) -> list[str]:
    """The `auth_lookup` read policy for a table created before it needed one."""
    return [f"CREATE POLICY auth_lookup ON {table} FOR SELECT USING ({LOOKUP_ON})"]


def drop_lookup_statements(table: str) -> list[str]:
    return [f"DROP POLICY IF EXISTS auth_lookup ON {table}"]


def worker_statements(table: str) -> list[str]:
    """Let a worker's claim transaction read and update the table across companies."""
    return [f"CREATE POLICY worker_access ON {table} USING ({WORKER_ON}) WITH CHECK ({WORKER_ON})"]


def drop_worker_statements(table: str) -> list[str]:
    return [f"DROP POLICY IF EXISTS worker_access ON {table}"]


def apply(execute: Callable[[str], object], dialect: str, statements: list[str]) -> None:
    """Run the statements on PostgreSQL; SQLite has no row-level security (one box, one
    process: the scoping helpers are the only line there)."""
    if dialect != "postgresql":
        return
    for statement in statements:
        execute(statement)
