"""Row-level security of platform content: every company reads it, none but the
operator's writes it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from db.scoping import bind_tenant
from db.session import unit_of_work
from models.course import Course
from tests.factories import make_company

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def platform_course(session):
    operator = await make_company(session, name="Vigil operator", is_platform=True)
    course = Course(company_id=operator.id, is_platform=True, title="Platform", status="published")
    session.add(course)
    await session.commit()
    return course


async def test_companies_read_platform_rows_but_cannot_change_them(tenant, platform_course):
    async with unit_of_work() as session:
        await bind_tenant(session, tenant.company.id)
        seen = (await session.scalars(select(Course.id))).all()
        assert seen == [platform_course.id]
        for statement in ("UPDATE courses SET title = 'pwned'", "DELETE FROM courses"):
            assert (await session.execute(text(statement))).rowcount == 0  # type: ignore[attr-defined]


async def test_a_company_cannot_publish_a_platform_row(tenant):
    async def insert_fake_platform_course() -> None:
        async with unit_of_work() as session:
            await bind_tenant(session, tenant.company.id)
            session.add(Course(company_id=tenant.company.id, is_platform=True, title="Fake"))

    with pytest.raises(DBAPIError, match="row-level security"):
        await insert_fake_platform_course()


async def test_other_companies_own_courses_stay_hidden(tenant, other_tenant):
    async with unit_of_work() as session:
        await bind_tenant(session, other_tenant.company.id)
        session.add(Course(company_id=other_tenant.company.id, title="Theirs"))
    async with unit_of_work() as session:
        await bind_tenant(session, tenant.company.id)
        assert (await session.scalars(select(Course))).all() == []
