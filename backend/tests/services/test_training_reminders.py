"""Training reminders: durable rows, sent by workers to a real SMTP server on loopback."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from core.config import settings
from models.base import utcnow
from models.enrollment import Enrollment, EnrollmentState
from models.training_campaign import ReminderStatus, TrainingReminder
from services import training_reminders
from services.email import SendResult, SmtpBackend
from tests.factories import make_user
from tests.support.smtp import SmtpTestServer, smtp_test_server
from tests.support.training import make_course

CAMPAIGNS = "/api/v1/training-campaigns"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpTestServer]:
    async with smtp_test_server(replies={"busy@acme.example.com": "451 try later"}) as server:
        yield server


@pytest.fixture
def backend(smtp: SmtpTestServer) -> SmtpBackend:
    return SmtpBackend(smtp.host, smtp.port, security="none")


@pytest.fixture
async def course(client, tenant):
    return await make_course(client, tenant.admin_headers)


async def assign(client, tenant, course, user_ids, **body):
    r = await client.post(
        CAMPAIGNS,
        json={
            "name": "Awareness",
            "course_ids": [course["id"]],
            "user_ids": [str(u) for u in user_ids],
            **body,
        },
        headers=tenant.admin_headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def to_and_subject(smtp: SmtpTestServer) -> list[tuple[str, str]]:
    return [(m.rcpt_tos[0], str(m.message["Subject"])) for m in smtp.received]


class WorkerDied(BaseException):
    """Stands for the process being killed: nothing after it runs."""


class DiesAfter:
    """Delivers `n` messages through `inner`, then the worker dies."""

    def __init__(self, inner: SmtpBackend, n: int) -> None:
        self.inner, self.left = inner, n

    async def send(self, message: EmailMessage) -> SendResult:
        if self.left == 0:
            raise WorkerDied()
        self.left -= 1
        return await self.inner.send(message)


class TestSchedule:
    async def test_every_kind_arrives_once_at_its_time(
        self, client, session, tenant, course, smtp, backend
    ):
        boss = await make_user(session, tenant.company, email="boss@acme.example.com")
        learner = await make_user(
            session, tenant.company, email="ann@acme.example.com", manager_id=boss.id
        )
        await session.commit()
        start = utcnow()
        await assign(
            client,
            tenant,
            course,
            [learner.id],
            due_at=(start + timedelta(days=10)).isoformat(),
            reminders={
                "at_start": True,
                "before_due_days": [3],
                "overdue_every_days": 7,
                "overdue_max": 2,
                "escalate_to_manager_after_days": 3,
            },
        )
        moments = [0, 1, 7.1, 7.2, 10.1, 13.1, 17.1, 24.2, 31.2, 40]
        for day in moments:
            await training_reminders.run_pass(start + timedelta(days=day), backend=backend)
        got = to_and_subject(smtp)
        assert [to for to, _ in got] == [
            "ann@acme.example.com",  # at start
            "ann@acme.example.com",  # 3 days before
            "ann@acme.example.com",  # overdue 0
            "boss@acme.example.com",  # escalation
            "ann@acme.example.com",  # overdue 1 (and no third: overdue_max 2)
        ]
        assert got[0][1].startswith("New training for you")
        assert got[1][1].startswith("Reminder:")
        assert got[2][1].startswith("Overdue:")
        assert "has not finished" in got[3][1]
        ids = [m.message["Message-ID"] for m in smtp.received]
        assert len(set(ids)) == len(ids)

    async def test_completed_enrollments_get_no_more_reminders(
        self, client, session, tenant, course, smtp, backend
    ):
        start = utcnow()
        await assign(
            client,
            tenant,
            course,
            [tenant.learner.id],
            due_days=5,
            reminders={"at_start": False, "overdue_every_days": 1},
        )
        enrollment = await session.scalar(select(Enrollment))
        enrollment.state = EnrollmentState.completed
        await session.commit()
        await training_reminders.run_pass(start + timedelta(days=6), backend=backend)
        assert smtp.received == []

    async def test_completion_after_planning_skips_the_row(
        self, client, session, tenant, course, smtp, backend
    ):
        await assign(client, tenant, course, [tenant.learner.id])
        now = utcnow()
        with pytest.raises(WorkerDied):  # planned and claimed, then the worker died
            await training_reminders.run_pass(now, backend=DiesAfter(backend, 0))
        enrollment = await session.scalar(select(Enrollment))
        enrollment.state = EnrollmentState.completed
        await session.commit()
        later = now + timedelta(seconds=settings.training_reminder_lease_seconds + 1)
        await training_reminders.run_pass(later, backend=backend)
        row = await session.scalar(select(TrainingReminder))
        assert row.status is ReminderStatus.skipped
        assert smtp.received == []


class TestDurability:
    async def test_a_worker_restart_mid_run_delivers_each_reminder_exactly_once(
        self, client, session, tenant, course, smtp, backend
    ):
        people = [
            await make_user(session, tenant.company, email=f"p{i}@acme.example.com")
            for i in range(7)
        ]
        await session.commit()
        await assign(client, tenant, course, [p.id for p in people])
        now = utcnow()
        with pytest.raises(WorkerDied):
            await training_reminders.run_pass(now, backend=DiesAfter(backend, 3))
        assert len(smtp.received) == 3
        # A new worker at once: the dead one's lease still holds its rows.
        await training_reminders.run_pass(now + timedelta(seconds=1), backend=backend)
        assert len(smtp.received) == 3
        # Once the lease has run out, the rest go out; nothing goes out twice.
        later = now + timedelta(seconds=settings.training_reminder_lease_seconds + 1)
        await training_reminders.run_pass(later, backend=backend)
        await training_reminders.run_pass(later + timedelta(hours=1), backend=backend)
        counts = Counter(m.rcpt_tos[0] for m in smtp.received)
        assert counts == {p.email: 1 for p in people}
        rows = (await session.scalars(select(TrainingReminder))).all()
        assert {r.status for r in rows} == {ReminderStatus.sent}

    async def test_a_busy_server_is_retried_later(
        self, client, session, tenant, course, smtp, backend
    ):
        busy = await make_user(session, tenant.company, email="busy@acme.example.com")
        await session.commit()
        await assign(client, tenant, course, [busy.id])
        now = utcnow()
        result = await training_reminders.run_pass(now, backend=backend)
        assert result.outcomes == {"retry": 1}
        row = await session.scalar(select(TrainingReminder))
        assert row.status is ReminderStatus.pending
        assert row.last_error
        assert "451" in row.last_error
        assert row.send_at > now

    async def test_planning_twice_writes_one_row(self, client, session, tenant, course):
        campaign = await assign(client, tenant, course, [tenant.learner.id])
        backend = DiesAfter(SmtpBackend("127.0.0.1", 9, security="none"), 0)
        with pytest.raises(WorkerDied):
            await training_reminders.run_pass(utcnow(), backend=backend)
        result = await training_reminders.run_pass(utcnow(), backend=backend)
        assert result.planned == 0
        rows = (
            await session.scalars(
                select(TrainingReminder).where(
                    TrainingReminder.campaign_id == uuid.UUID(campaign["id"])
                )
            )
        ).all()
        assert len(rows) == 1


class TestRemindersView:
    async def test_admin_sees_sent_reminders_others_do_not(
        self, client, tenant, other_tenant, course, backend
    ):
        campaign = await assign(client, tenant, course, [tenant.learner.id])
        await training_reminders.run_pass(utcnow(), backend=backend)
        path = f"{CAMPAIGNS}/{campaign['id']}/reminders"
        r = await client.get(path, headers=tenant.admin_headers)
        assert [(x["kind"], x["status"]) for x in r.json()["items"]] == [("at_start", "sent")]
        assert (await client.get(path, headers=tenant.manager_headers)).status_code == 403
        assert (await client.get(path, headers=other_tenant.admin_headers)).status_code == 404
        r = await client.get(f"{path}?status=bogus", headers=tenant.admin_headers)
        assert r.status_code == 422
