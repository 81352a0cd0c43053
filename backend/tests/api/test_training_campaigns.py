"""Training campaigns: assigning courses, auto-enroll, progress views and CSV exports."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models.base import utcnow
from models.enrollment import Enrollment, EnrollmentState
from models.group import GroupManager
from models.training_campaign import TrainingCampaign
from models.user import UserStatus
from services import training_reminders
from tests.factories import bearer, make_platform_admin, make_user
from tests.support.training import make_course

CAMPAIGNS = "/api/v1/training-campaigns"


@pytest.fixture
async def course(client, tenant):
    return await make_course(client, tenant.admin_headers)


async def make_group(client, headers, *, name="Team", member_ids=(), rules=None):
    body = {"name": name, "kind": "rule" if rules else "static"}
    if rules:
        body["rules"] = rules
    else:
        body["member_ids"] = [str(m) for m in member_ids]
    r = await client.post("/api/v1/groups", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def create(client, headers, **body):
    r = await client.post(CAMPAIGNS, json={"name": "Q4 training", **body}, headers=headers)
    return r


async def count_enrollments(session, **where) -> int:
    stmt = select(func.count()).select_from(Enrollment)
    for key, value in where.items():
        stmt = stmt.where(getattr(Enrollment, key) == value)
    return int(await session.scalar(stmt) or 0)


class TestCreate:
    async def test_group_and_people_are_enrolled_with_a_relative_due_date(
        self, client, session, tenant, course
    ):
        people = [await make_user(session, tenant.company) for _ in range(3)]
        disabled = await make_user(session, tenant.company, status=UserStatus.disabled)
        await session.commit()
        group = await make_group(
            client, tenant.admin_headers, member_ids=[p.id for p in people[:2]] + [disabled.id]
        )
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            group_ids=[group["id"]],
            user_ids=[str(people[2].id)],
            due_days=14,
        )
        assert r.status_code == 201, r.text
        campaign = r.json()
        assert campaign["status"] == "active"
        assert campaign["enrolled_count"] == 3  # the disabled member is skipped
        rows = (
            await session.scalars(
                select(Enrollment).where(
                    Enrollment.training_campaign_id == uuid.UUID(campaign["id"])
                )
            )
        ).all()
        assert {e.user_id for e in rows} == {p.id for p in people}
        due = rows[0].due_at
        assert due is not None
        assert abs((due - utcnow()) - timedelta(days=14)) < timedelta(minutes=1)

    async def test_platform_course_can_be_assigned(self, client, session, tenant):
        operator = await make_platform_admin(session)
        await session.commit()
        platform = await make_course(client, bearer(operator), title="Platform course")
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[platform["id"]],
            user_ids=[str(tenant.learner.id)],
        )
        assert r.status_code == 201, r.text
        assert r.json()["enrolled_count"] == 1

    async def test_future_start_enrolls_at_the_start(self, client, session, tenant, course):
        starts = utcnow() + timedelta(days=2)
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
            starts_at=starts.isoformat(),
            due_at=(starts + timedelta(days=7)).isoformat(),
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "scheduled"
        assert await count_enrollments(session, user_id=tenant.learner.id) == 0
        await training_reminders.run_pass(utcnow())  # not yet
        assert await count_enrollments(session, user_id=tenant.learner.id) == 0
        result = await training_reminders.run_pass(starts + timedelta(minutes=1))
        assert result.started == 1
        assert await count_enrollments(session, user_id=tenant.learner.id) == 1
        r = await client.get(f"{CAMPAIGNS}/{r.json()['id']}", headers=tenant.admin_headers)
        assert r.json()["status"] == "active"

    @pytest.mark.parametrize("status", ["draft", "archived"])
    async def test_unpublished_course_is_422_and_nothing_is_made(
        self, client, session, tenant, status
    ):
        course = await make_course(client, tenant.admin_headers, publish=status == "archived")
        if status == "archived":
            r = await client.post(
                f"/api/v1/courses/{course['id']}/archive", headers=tenant.admin_headers
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "archived"
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "course_not_published"
        assert await session.scalar(select(func.count()).select_from(TrainingCampaign)) == 0

    async def test_due_before_start_is_422(self, client, session, tenant, course):
        now = utcnow()
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
            starts_at=(now + timedelta(days=3)).isoformat(),
            due_at=(now + timedelta(days=1)).isoformat(),
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "training_campaign_invalid"
        assert await session.scalar(select(func.count()).select_from(TrainingCampaign)) == 0
        assert await count_enrollments(session) == 0

    @pytest.mark.parametrize(
        "body",
        [
            {"due_days": 3, "due_at": "2030-01-01T00:00:00Z"},
            {"reminders": {"before_due_days": [3]}},  # no due date
            {"due_days": 0},
            {"reminders": {"bogus": 1}},
            {"company_id": "00000000-0000-0000-0000-000000000000"},
            {"due_at": "2030-01-01T00:00:00"},  # no timezone: ambiguous
            {"starts_at": "2030-01-01T00:00:00"},
        ],
    )
    async def test_bad_bodies_are_422(self, client, session, tenant, course, body):
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
            **body,
        )
        assert r.status_code == 422, r.text
        assert "error" in r.json()
        assert await count_enrollments(session) == 0

    async def test_nobody_to_assign_is_422(self, client, tenant, course):
        r = await create(client, tenant.admin_headers, course_ids=[course["id"]])
        assert r.status_code == 422

    async def test_other_companys_group_user_or_course_is_422(
        self, client, tenant, other_tenant, course
    ):
        theirs = await make_course(client, other_tenant.admin_headers, title="Theirs")
        group = await make_group(client, other_tenant.admin_headers)
        for body in (
            {"course_ids": [course["id"]], "user_ids": [str(other_tenant.learner.id)]},
            {"course_ids": [course["id"]], "group_ids": [group["id"]]},
            {"course_ids": [theirs["id"]], "user_ids": [str(tenant.learner.id)]},
        ):
            r = await create(client, tenant.admin_headers, **body)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "training_campaign_reference_invalid"


class TestAccess:
    async def test_other_company_campaign_returns_404(self, client, tenant, other_tenant, course):
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
        )
        cid = r.json()["id"]
        for path in ("", "/enrollments", "/enrollments.csv", "/progress", "/reminders"):
            r = await client.get(f"{CAMPAIGNS}/{cid}{path}", headers=other_tenant.admin_headers)
            assert r.status_code == 404, path
        r = await client.patch(
            f"{CAMPAIGNS}/{cid}", json={"name": "x"}, headers=other_tenant.admin_headers
        )
        assert r.status_code == 404
        r = await client.get(
            f"/api/v1/users/{tenant.learner.id}/enrollments", headers=other_tenant.admin_headers
        )
        assert r.status_code == 404

    async def test_roles(self, client, tenant, course):
        body = {"name": "x", "course_ids": [course["id"]], "user_ids": [str(tenant.learner.id)]}
        for headers in (tenant.manager_headers, tenant.learner_headers):
            r = await client.post(CAMPAIGNS, json=body, headers=headers)
            assert r.status_code == 403
        r = await client.get(CAMPAIGNS, headers=tenant.learner_headers)
        assert r.status_code == 403
        r = await client.get(CAMPAIGNS, headers=tenant.manager_headers)
        assert r.status_code == 200

    async def test_manager_sees_only_people_in_groups_they_manage(
        self, client, session, tenant, course
    ):
        mine = await make_user(session, tenant.company, department="Sales")
        other = await make_user(session, tenant.company, department="Ops")
        await session.commit()
        group = await make_group(
            client,
            tenant.admin_headers,
            name="Sales",
            rules={
                "match": "all",
                "conditions": [{"attribute": "department", "operator": "eq", "value": "Sales"}],
            },
        )
        session.add(
            GroupManager(
                company_id=tenant.company.id,
                group_id=uuid.UUID(group["id"]),
                user_id=tenant.manager.id,
            )
        )
        await session.commit()
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(mine.id), str(other.id)],
        )
        cid = r.json()["id"]
        r = await client.get(f"{CAMPAIGNS}/{cid}/enrollments", headers=tenant.manager_headers)
        assert [e["user_id"] for e in r.json()["items"]] == [str(mine.id)]
        r = await client.get(f"{CAMPAIGNS}/{cid}/progress", headers=tenant.manager_headers)
        assert r.json()["total"] == 1
        r = await client.get(
            f"/api/v1/users/{other.id}/enrollments", headers=tenant.manager_headers
        )
        assert r.status_code == 404
        r = await client.get(f"/api/v1/users/{mine.id}/enrollments", headers=tenant.manager_headers)
        assert len(r.json()["items"]) == 1
        r = await client.get(f"{CAMPAIGNS}/{cid}/enrollments.csv", headers=tenant.manager_headers)
        assert len(list(csv.reader(io.StringIO(r.text)))) == 2  # header + one row


class TestAutoEnroll:
    async def test_static_group_newcomer_is_enrolled_at_once(self, client, session, tenant, course):
        newcomer = await make_user(session, tenant.company)
        await session.commit()
        group = await make_group(client, tenant.admin_headers, member_ids=[tenant.learner.id])
        await create(
            client, tenant.admin_headers, course_ids=[course["id"]], group_ids=[group["id"]]
        )
        r = await client.post(
            f"/api/v1/groups/{group['id']}/members",
            json={"user_ids": [str(newcomer.id)]},
            headers=tenant.admin_headers,
        )
        assert r.status_code in (200, 201), r.text
        assert await count_enrollments(session, user_id=newcomer.id) == 1

    async def test_rule_group_newcomer_is_enrolled_by_the_next_pass(
        self, client, session, tenant, course
    ):
        group = await make_group(
            client,
            tenant.admin_headers,
            rules={
                "match": "all",
                "conditions": [{"attribute": "department", "operator": "eq", "value": "Finance"}],
            },
        )
        r = await create(
            client, tenant.admin_headers, course_ids=[course["id"]], group_ids=[group["id"]]
        )
        assert r.json()["enrolled_count"] == 0
        r = await client.patch(
            f"/api/v1/users/{tenant.learner.id}",
            json={"department": "Finance"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        result = await training_reminders.run_pass()
        assert result.enrolled == 1
        assert await count_enrollments(session, user_id=tenant.learner.id) == 1
        assert (await training_reminders.run_pass()).enrolled == 0  # idempotent

    async def test_archived_campaign_enrolls_nobody_more(self, client, session, tenant, course):
        group = await make_group(client, tenant.admin_headers, member_ids=[tenant.admin.id])
        r = await create(
            client, tenant.admin_headers, course_ids=[course["id"]], group_ids=[group["id"]]
        )
        cid = r.json()["id"]
        r = await client.patch(
            f"{CAMPAIGNS}/{cid}", json={"status": "archived"}, headers=tenant.admin_headers
        )
        assert r.json()["status"] == "archived"
        await client.post(
            f"/api/v1/groups/{group['id']}/members",
            json={"user_ids": [str(tenant.learner.id)]},
            headers=tenant.admin_headers,
        )
        await training_reminders.run_pass()
        assert await count_enrollments(session, user_id=tenant.learner.id) == 0
        r = await client.patch(
            f"{CAMPAIGNS}/{cid}", json={"due_at": None}, headers=tenant.admin_headers
        )
        assert r.status_code == 422


class TestUpdate:
    async def test_moving_the_due_date_moves_unfinished_enrollments(
        self, client, session, tenant, course
    ):
        due = utcnow() + timedelta(days=5)
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
            due_at=due.isoformat(),
        )
        cid = r.json()["id"]
        later = due + timedelta(days=10)
        r = await client.patch(
            f"{CAMPAIGNS}/{cid}", json={"due_at": later.isoformat()}, headers=tenant.admin_headers
        )
        assert r.status_code == 200, r.text
        enrollment = await session.scalar(
            select(Enrollment).where(Enrollment.user_id == tenant.learner.id)
        )
        assert abs(enrollment.due_at - later) < timedelta(seconds=1)

    async def test_bad_updates_are_422_and_change_nothing(self, client, tenant, course):
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
            due_days=3,
        )
        cid = r.json()["id"]
        bodies: list[dict[str, object]] = [
            {"status": "active"},
            {"starts_at": utcnow().isoformat()},  # already started
            {"due_at": (utcnow() + timedelta(days=3)).isoformat()},  # relative campaign
            {"course_ids": []},
        ]
        for body in bodies:
            r = await client.patch(f"{CAMPAIGNS}/{cid}", json=body, headers=tenant.admin_headers)
            assert r.status_code == 422, body
        r = await client.get(f"{CAMPAIGNS}/{cid}", headers=tenant.admin_headers)
        assert r.json()["due_days"] == 3
        assert r.json()["status"] == "active"


class TestProgress:
    async def test_counts_rate_overdue_list_and_csv(self, client, session, tenant, course):
        people = [await make_user(session, tenant.company, department="=cmd") for _ in range(4)]
        await session.commit()
        r = await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(p.id) for p in people],
            due_days=7,
        )
        cid = r.json()["id"]
        rows = (await session.scalars(select(Enrollment).order_by(Enrollment.id))).all()
        rows[0].state, rows[0].completed_at, rows[0].percent = (
            EnrollmentState.completed,
            utcnow(),
            100,
        )
        rows[1].state, rows[1].percent = EnrollmentState.in_progress, 40
        rows[2].due_at = utcnow() - timedelta(days=1)
        await session.commit()
        r = await client.get(f"{CAMPAIGNS}/{cid}/progress", headers=tenant.admin_headers)
        body = r.json()
        assert body["counts"] == {"not_started": 1, "in_progress": 1, "completed": 1, "overdue": 1}
        assert body["total"] == 4
        assert body["completion_rate"] == 0.25
        assert [e["id"] for e in body["overdue"]] == [str(rows[2].id)]
        r = await client.get(
            f"{CAMPAIGNS}/{cid}/enrollments?state=overdue", headers=tenant.admin_headers
        )
        assert [e["state"] for e in r.json()["items"]] == ["overdue"]
        r = await client.get(f"{CAMPAIGNS}/{cid}/enrollments?limit=3", headers=tenant.admin_headers)
        assert len(r.json()["items"]) == 3
        assert r.json()["next_cursor"]
        r = await client.get(f"{CAMPAIGNS}/{cid}/enrollments.csv", headers=tenant.admin_headers)
        assert r.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(r.text)))
        assert len(table) == 4
        assert {row["state"] for row in table} == {
            "completed",
            "in_progress",
            "overdue",
            "not_started",
        }
        assert table[0]["department"] == "'=cmd"  # no formula injection

    async def test_user_enrollments_and_bad_filters(self, client, tenant, course):
        await create(
            client,
            tenant.admin_headers,
            course_ids=[course["id"]],
            user_ids=[str(tenant.learner.id)],
        )
        r = await client.get(
            f"/api/v1/users/{tenant.learner.id}/enrollments", headers=tenant.admin_headers
        )
        assert [e["course_title"] for e in r.json()["items"]] == [course["title"]]
        r = await client.get(
            f"/api/v1/users/{tenant.learner.id}/enrollments.csv", headers=tenant.admin_headers
        )
        assert r.status_code == 200
        assert course["title"] in r.text
        r = await client.get(f"{CAMPAIGNS}?status=nope", headers=tenant.admin_headers)
        assert r.status_code == 422
        r = await client.get(f"{CAMPAIGNS}?cursor=garbage", headers=tenant.admin_headers)
        assert r.status_code == 400
