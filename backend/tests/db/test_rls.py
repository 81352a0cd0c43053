"""Row-level security on PostgreSQL: the backstop behind the scoping helpers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from db import session as session_module
from db.base import Base
from db.scoping import auth_lookup, bind_tenant
from db.session import unit_of_work
from models.user import User
from tests.conftest import APP_ROLE, owner_engine

pytestmark = pytest.mark.postgres_only


class TestCatalog:
    async def test_every_tenant_table_has_rls_enabled_and_forced(self):
        tenant_tables = {t.name for t in Base.metadata.sorted_tables if "company_id" in t.c}
        async with owner_engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                        "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
                        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                    )
                )
            ).all()
        state = {name: (enabled, forced, policies) for name, enabled, forced, policies in rows}
        assert tenant_tables  # the check would be empty otherwise
        for table in tenant_tables:
            enabled, forced, policies = state[table]
            assert enabled, f"{table}: row-level security not enabled"
            assert forced, f"{table}: row-level security not forced"
            assert policies >= 1, f"{table}: no policy"

    async def test_the_app_role_owns_nothing_and_cannot_bypass(self):
        async with owner_engine.connect() as conn:
            role = (
                await conn.execute(
                    text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"),
                    {"r": APP_ROLE},
                )
            ).one()
            owned = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE tableowner = :r"), {"r": APP_ROLE}
            )
        assert tuple(role) == (False, False)
        assert owned == 0
        assert settings.database_url.startswith(f"postgresql+asyncpg://{APP_ROLE}@")


class TestIsolation:
    @pytest.mark.usefixtures("other_tenant")
    async def test_a_raw_query_that_skips_the_helper_sees_only_its_company(self, tenant):
        async with unit_of_work() as session:
            await bind_tenant(session, tenant.company.id)
            # Deliberately unscoped: the kind of bug row-level security is there to catch.
            seen = {u.company_id for u in (await session.scalars(select(User))).all()}
        assert seen == {tenant.company.id}

    @pytest.mark.usefixtures("tenant")
    async def test_no_company_set_means_no_rows(self):
        async with unit_of_work() as session:
            assert (await session.scalars(select(User))).all() == []

    async def test_writes_into_another_company_are_refused(self, tenant, other_tenant):
        from sqlalchemy.exc import DBAPIError

        async def insert_elsewhere() -> None:
            async with unit_of_work() as session:
                await bind_tenant(session, tenant.company.id)
                session.add(
                    User(company_id=other_tenant.company.id, email="sneaky@globex.example.com")
                )

        with pytest.raises(DBAPIError, match="row-level security"):
            await insert_elsewhere()

    async def test_updates_cannot_reach_another_company(self, tenant, other_tenant):
        async with unit_of_work() as session:
            await bind_tenant(session, tenant.company.id)
            result = await session.execute(
                text("UPDATE users SET department = 'pwned' WHERE company_id = :c"),
                {"c": other_tenant.company.id},
            )
            assert result.rowcount == 0  # type: ignore[attr-defined]

    async def test_auth_lookup_opens_reads_only_for_its_block(self, tenant, other_tenant):
        async with unit_of_work() as session:
            async with auth_lookup(session):
                during = (await session.scalars(select(User))).all()
            after = (await session.scalars(select(User))).all()
        assert {u.company_id for u in during} == {tenant.company.id, other_tenant.company.id}
        assert after == []


class TestTenantBinding:
    """`bind_tenant` before the transaction has begun rides along with its BEGIN; what is
    pending must never outlive the transaction it was meant for."""

    @staticmethod
    async def _company_setting(session) -> str:
        return str(await session.scalar(text("SELECT current_setting('app.company_id', true)")))

    async def test_before_begin_it_binds_the_transaction_that_follows(self, tenant):
        async with unit_of_work() as session:
            await bind_tenant(session, tenant.company.id)
            assert await self._company_setting(session) == str(tenant.company.id)
            seen = {u.company_id for u in (await session.scalars(select(User))).all()}
        assert seen == {tenant.company.id}

    async def test_after_begin_it_binds_at_once(self, tenant, other_tenant):
        async with unit_of_work() as session:
            await bind_tenant(session, tenant.company.id)
            await session.execute(text("SELECT 1"))
            await bind_tenant(session, other_tenant.company.id)
            assert await self._company_setting(session) == str(other_tenant.company.id)

    async def test_a_binding_never_sent_is_dropped_with_its_transaction(self, tenant):
        async with session_module.engine.connect() as conn:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            async with AsyncSession(bind=conn) as session:
                await bind_tenant(session, tenant.company.id)  # and nothing else: no BEGIN
                assert raw.begin_with is not None
                await session.commit()
            assert raw.begin_with is None
            # The same connection, next transaction: no company, so no rows.
            async with AsyncSession(bind=conn) as session:
                assert await self._company_setting(session) != str(tenant.company.id)
                assert (await session.scalars(select(User))).all() == []

    async def test_a_pending_statement_is_dropped_when_the_connection_goes_back(self):
        async with session_module.engine.connect() as conn:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            raw.begin_with = "SELECT 1/0;"
        assert raw.begin_with is None
