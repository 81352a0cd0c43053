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


async def migrate(
    url: str | None = None, revision: str = "head", *, downgrade: bool = False
) -> None:
    """Bring the database to `revision`. On PostgreSQL a session advisory lock makes replicas
    that start together take turns: the first migrates, the others then find nothing to do."""
    url = url or settings.effective_migration_url
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await _locked(conn, True)
            try:
                before = await conn.run_sync(current_revisions)
                await conn.run_sync(_downgrade if downgrade else _upgrade, revision)
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
