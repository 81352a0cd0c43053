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
    base = make_url(settings.effective_migration_url)
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
    # SQLite cannot reflect the PostgreSQL-only expression indexes; PostgreSQL compares them.
    @pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
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


@pytest.mark.postgres_only
class TestAppRoleGrants:
    async def test_app_role_can_use_tables_but_not_change_them(self, fresh_url):
        role = f"vigil_test_app_{uuid.uuid4().hex[:8]}"
        engine = create_async_engine(fresh_url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE ROLE {role} NOLOGIN NOBYPASSRLS"))
        try:
            await migrate(fresh_url, app_role=role)
            async with engine.connect() as conn:

                async def can(privilege: str, table: str) -> bool:
                    return bool(
                        await conn.scalar(
                            text("SELECT has_table_privilege(:r, :t, :p)"),
                            {"r": role, "t": table, "p": privilege},
                        )
                    )

                assert await can("SELECT", "alembic_version")
                assert not await can("UPDATE", "alembic_version")
                for table in Base.metadata.sorted_tables:
                    append_only = bool(table.info.get("append_only"))
                    assert await can("SELECT", table.name)
                    assert await can("INSERT", table.name)
                    assert await can("UPDATE", table.name) is not append_only
                    assert await can("DELETE", table.name) is not append_only
                owner = await conn.scalar(
                    text("SELECT tableowner FROM pg_tables WHERE tablename = 'companies'")
                )
                assert owner != role
        finally:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP OWNED BY {role}"))
                await conn.execute(text(f"DROP ROLE {role}"))
            await engine.dispose()
