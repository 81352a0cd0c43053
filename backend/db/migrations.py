"""Run Alembic from code: upgrade under a PostgreSQL advisory lock, and read where the
database stands against the newest migration."""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from loguru import logger
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from alembic import command
from core.config import BACKEND_DIR, settings

# Any fixed 64-bit number works; this one spells "VIGILMIG" so it is recognisable in pg_locks.
MIGRATION_LOCK_KEY = int.from_bytes(b"VIGILMIG", "big") & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config() -> Config:
    return Config(str(BACKEND_DIR / "alembic.ini"))


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def current_revisions(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def _locked(conn: AsyncConnection, lock: bool) -> None:
    if lock and conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.commit()


async def _unlock(conn: AsyncConnection, lock: bool) -> None:
    if lock and conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.commit()


def _grant_app_role(connection: Connection, role: str) -> None:
    """Give the application role what it may do, table by table, after every migration.

    Tables marked `info={"append_only": True}` (the audit log) get SELECT and INSERT only,
    so not even a bug in the app can rewrite history."""
    from db.base import Base  # every model, so the grants cover every table

    quote = connection.dialect.identifier_preparer.quote
    who = quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"GRANT SELECT ON alembic_version TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
    ]
    existing = set(
        connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).scalars()
    )
    for table in Base.metadata.sorted_tables:
        if table.name not in existing:  # after a downgrade, newer tables are gone
            continue
        name = quote(table.name)
        if table.info.get("append_only"):
            statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {name} FROM {who}")
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {who}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {who}")
    for statement in statements:
        connection.exec_driver_sql(statement)


async def migrate(
    url: str | None = None,
    revision: str = "head",
    *,
    downgrade: bool = False,
    app_role: str | None = None,
) -> None:
    """Bring the database to `revision`. On PostgreSQL a session advisory lock makes replicas
    that start together take turns: the first migrates, the others then find nothing to do.
    Then the application role (`app_role`, else VIGIL_DATABASE_APP_ROLE) gets its grants."""
    url = url or settings.effective_migration_url
    app_role = app_role or settings.database_app_role
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await _locked(conn, True)
            try:
                before = await conn.run_sync(current_revisions)
                await conn.run_sync(_downgrade if downgrade else _upgrade, revision)
                if app_role and conn.dialect.name == "postgresql":
                    await conn.run_sync(_grant_app_role, app_role)
                await conn.commit()
                after = await conn.run_sync(current_revisions)
                if before != after:
                    logger.info("database migrated from {} to {}", sorted(before), sorted(after))
            finally:
                await _unlock(conn, True)
    finally:
        await engine.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
