"""Engines, sessions, and the one place that commits.

`unit_of_work()` opens a session, commits when the block ends normally, rolls back on any
error, and only after a successful commit runs the callbacks queued with `after_commit()`
(typically: send a job to the broker). Requests and jobs both go through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
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
# Execution option of a statement that leaves soft-deleted rows out by itself (a prebuilt
# one, see `db.scoping.get_scoped`), so the hook below need not add it again.
SOFT_DELETE_APPLIED = "vigil_soft_delete_applied"
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


class TenantConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg has no types
    """An asyncpg connection that can send one statement along with its next BEGIN, in the
    same message: `db.scoping.bind_tenant` puts the company's `set_config` there, so binding
    a transaction to its company costs no round trip of its own (measured: a sixth of an
    authenticated read's CPU time, most of it the system calls of the extra round trip).
    Whatever is pending is dropped when the transaction ends or the connection goes back to
    the pool, so it can never reach another transaction."""

    begin_with: str | None = None

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's own signature
    ) -> str:
        if self.begin_with is not None and not args and query.startswith("BEGIN"):
            # The simple-query protocol runs both statements, in order, in one message.
            query, self.begin_with = f"{query} {self.begin_with}", None
        return await super().execute(query, *args, timeout=timeout)  # type: ignore[no-any-return]


def _drop_pending(driver_connection: Any) -> None:
    if isinstance(driver_connection, TenantConnection):
        driver_connection.begin_with = None


def build_engine(url: str, cfg: Settings) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=cfg.db_echo, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        echo=cfg.db_echo,
        pool_size=cfg.db_pool_size,
        max_overflow=cfg.db_max_overflow,
        pool_timeout=cfg.db_pool_timeout,
        pool_recycle=cfg.db_pool_recycle,
        pool_pre_ping=cfg.db_pool_pre_ping,
        connect_args={"connection_class": TenantConnection},
    )
    sync = engine.sync_engine
    for name in ("commit", "rollback"):
        event.listen(sync, name, lambda conn: _drop_pending(conn.connection.driver_connection))
    event.listen(sync, "checkin", lambda dbapi, _: _drop_pending(dbapi.driver_connection))
    return engine


engine: AsyncEngine = build_engine(settings.database_url, settings)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@event.listens_for(Session, "do_orm_execute")
def _exclude_soft_deleted(state: ORMExecuteState) -> None:
    if (
        state.is_select
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get("include_deleted", False)
        and not state.execution_options.get(SOFT_DELETE_APPLIED, False)
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
async def raw_transaction(*, with_begin: str | None = None) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection, in a transaction of its own (PostgreSQL
    only): for a hot path that needs no ORM at all. SQLAlchemy never begins on it, so it
    goes back to the pool with nothing to reset. `with_begin` is sent in the same message
    as the BEGIN (`TenantConnection`)."""
    async with engine.connect() as connection:
        raw: Any = (await connection.get_raw_connection()).driver_connection
        raw.begin_with = with_begin
        async with raw.transaction():
            yield raw
