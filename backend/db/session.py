"""Engines, sessions, and the one place that commits.

`unit_of_work()` opens a session, commits when the block ends normally, rolls back on any
error, and only after a successful commit runs the callbacks queued with `after_commit()`
(typically: send a job to the broker). Requests and jobs both go through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from loguru import logger
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.pool import ConnectionPoolEntry

from core.config import Settings, settings
from models.base import SoftDelete

AFTER_COMMIT_KEY = "vigil_after_commit"
AfterCommit = Callable[[], Awaitable[Any]]


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run while one writer writes; busy_timeout makes a second writer wait
    # instead of failing at once with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str, cfg: Settings) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=cfg.db_echo, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=cfg.db_echo,
        pool_size=cfg.db_pool_size,
        max_overflow=cfg.db_max_overflow,
        pool_timeout=cfg.db_pool_timeout,
        pool_recycle=cfg.db_pool_recycle,
        pool_pre_ping=cfg.db_pool_pre_ping,
    )


engine: AsyncEngine = build_engine(settings.database_url, settings)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@event.listens_for(Session, "do_orm_execute")
def _exclude_soft_deleted(state: ORMExecuteState) -> None:
    if (
        state.is_select
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get("include_deleted", False)
    ):
        state.statement = state.statement.options(
            with_loader_criteria(
                SoftDelete,
                lambda cls: cls.deleted_at.is_(None),
                include_aliases=True,
            )
        )


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed; never if it rolls back."""
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


async def _run_after_commit(callbacks: list[AfterCommit]) -> None:
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The queue is a nudge: durable rows are the source of truth and pollers pick
            # them up, so a broker hiccup must not turn a committed request into an error.
            logger.exception("after-commit callback failed")


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop(AFTER_COMMIT_KEY, None)
            raise
        callbacks = session.info.pop(AFTER_COMMIT_KEY, [])
    if callbacks:
        await _run_after_commit(callbacks)


async def dispose_engine() -> None:
    await engine.dispose()


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under `session`, inside the session's transaction: for the few
    hot statements written in PostgreSQL's own SQL and prepared once per connection (asyncpg
    caches them), where SQLAlchemy's per-statement and per-row work would dominate."""
    connection = await session.connection()
    raw: Any = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement.
        await connection.exec_driver_sql("SELECT 1")
    return raw


@asynccontextmanager
async def raw_transaction() -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection, in a transaction of its own (PostgreSQL
    only): for a hot path that needs no ORM at all. SQLAlchemy never begins on it, so it
    goes back to the pool with nothing to reset."""
    async with engine.connect() as connection:
        raw: Any = (await connection.get_raw_connection()).driver_connection
        async with raw.transaction():
            yield raw
