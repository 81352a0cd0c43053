"""The migrations build exactly what the models describe, go down and up again, and
replicas that migrate at once on PostgreSQL take turns."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core.config import settings
from db.base import Base
from db.migrations import current_revisions, head_revisions, migrate
from tests.conftest import IS_POSTGRES, TEST_TMP


@pytest.fixture
async def fresh_url() -> AsyncIterator[str]:
    """An empty database of the same kind as the test database."""
    if not IS_POSTGRES:
        yield f"sqlite+aiosqlite:///{TEST_TMP / f'fresh-{uuid.uuid4().hex}.db'}"
        return
    base = make_url(settings.database_url)
    name = f"{base.database}_m{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(
        base.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    return diff


async def _revisions(url: str) -> frozenset[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        revs = await conn.run_sync(current_revisions)
    await engine.dispose()
    return revs


class TestMigrations:
    async def test_models_and_migrations_agree(self, fresh_url):
        await migrate(fresh_url)
        assert await _diff(fresh_url) == []

    async def test_down_to_base_and_up_again(self, fresh_url):
        await migrate(fresh_url)
        await migrate(fresh_url, "base", downgrade=True)
        assert await _revisions(fresh_url) == frozenset()
        await migrate(fresh_url)
        assert await _revisions(fresh_url) == head_revisions()

    async def test_migrating_twice_is_a_no_op(self, fresh_url):
        await migrate(fresh_url)
        await migrate(fresh_url)
        assert await _revisions(fresh_url) == head_revisions()

    @pytest.mark.postgres_only
    async def test_replicas_migrating_together_take_turns(self, fresh_url):
        await asyncio.gather(*(migrate(fresh_url) for _ in range(4)))
        assert await _revisions(fresh_url) == head_revisions()
        assert await _diff(fresh_url) == []
