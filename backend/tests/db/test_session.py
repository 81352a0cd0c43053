from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from db.session import after_commit, unit_of_work
from models.company import Company, CompanyStatus
from tests.factories import make_company


class TestModelBase:
    async def test_ids_are_time_ordered_uuid7(self, session):
        a = await make_company(session)
        b = await make_company(session)
        assert isinstance(a.id, uuid.UUID)
        assert a.id.version == 7
        assert a.id < b.id

    async def test_timestamps_are_aware_utc_after_a_round_trip(self, session):
        company = await make_company(session)
        await session.commit()
        session.expunge_all()
        loaded = await session.get(Company, company.id)
        assert loaded is not None
        assert loaded.created_at.tzinfo is not None
        assert loaded.created_at.utcoffset() == timedelta(0)
        assert abs(loaded.created_at - datetime.now(UTC)) < timedelta(minutes=1)

    async def test_other_offsets_are_stored_as_utc(self, session):
        paris = timezone(timedelta(hours=1))
        company = await make_company(session, deleted_at=datetime(2026, 1, 1, 12, tzinfo=paris))
        await session.commit()
        session.expunge_all()
        row = (
            await session.scalars(
                select(Company)
                .where(Company.id == company.id)
                .execution_options(include_deleted=True)
            )
        ).one()
        assert row.deleted_at == datetime(2026, 1, 1, 11, tzinfo=UTC)

    async def test_naive_datetimes_are_refused(self, session):
        session.add(Company(name="naive", deleted_at=datetime(2026, 1, 1)))
        flush = session.flush()
        with pytest.raises(Exception, match="naive datetime"):
            await flush
        await session.rollback()

    async def test_updated_at_moves_on_update(self, session):
        company = await make_company(session)
        await session.commit()
        before = company.updated_at
        company.status = CompanyStatus.suspended
        await session.commit()
        assert company.updated_at > before


class TestSoftDelete:
    async def test_default_queries_leave_deleted_rows_out(self, session):
        kept = await make_company(session, name="kept")
        gone = await make_company(session, name="gone")
        gone.soft_delete()
        await session.commit()
        names = set((await session.scalars(select(Company.name))).all())
        visible = {c.name for c in (await session.scalars(select(Company))).all()}
        assert visible == {"kept"}
        assert names == {kept.name}  # column selects are filtered too

    async def test_include_deleted_shows_them(self, session):
        gone = await make_company(session, name="gone")
        gone.soft_delete()
        await session.commit()
        rows = (
            await session.scalars(select(Company).execution_options(include_deleted=True))
        ).all()
        assert [c.name for c in rows] == ["gone"]
        assert rows[0].is_deleted


class TestUnitOfWork:
    async def test_commits_and_then_runs_callbacks(self):
        seen: list[str] = []
        async with unit_of_work() as db:
            company = await make_company(db)

            async def callback() -> None:
                async with unit_of_work() as other:
                    # Runs after commit: another connection already sees the row.
                    seen.append("visible" if await other.get(Company, company.id) else "missing")

            after_commit(db, callback)
            assert seen == []
        assert seen == ["visible"]

    async def test_rollback_drops_writes_and_callbacks(self):
        seen: list[str] = []

        async def callback() -> None:
            seen.append("ran")

        created: list[Company] = []

        async def write_then_fail() -> None:
            async with unit_of_work() as db:
                created.append(await make_company(db))
                after_commit(db, callback)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await write_then_fail()
        company = created[0]
        async with unit_of_work() as db:
            assert await db.get(Company, company.id) is None
        assert seen == []

    async def test_failing_callback_does_not_undo_the_commit(self):
        async def broken() -> None:
            raise ConnectionError("broker down")

        async with unit_of_work() as db:
            company = await make_company(db)
            after_commit(db, broken)
        async with unit_of_work() as db:
            assert await db.get(Company, company.id) is not None
