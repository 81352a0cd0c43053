"""The learner's side: enrollments, lessons, policy acknowledgements, quiz attempts,
completion, certificates and the public check."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from db.scoping import bind_tenant
from db.session import unit_of_work
from models.base import utcnow
from models.enrollment import Certificate, Enrollment, LessonProgress, QuizAttempt
from services.enrollments import enroll
from tests.factories import make_user
from tests.support.training import COURSES, make_course, quiz

ME = "/api/v1/me"


async def assign(tenant, course, users=None, *, due_at=None) -> int:
    async with unit_of_work() as db:
        await bind_tenant(db, tenant.company.id)
        return await enroll(
            db,
            tenant.company.id,
            [u.id for u in users or [tenant.learner]],
            uuid.UUID(course["id"]),
            due_at=due_at,
        )


async def my_enrollment(client, tenant) -> dict:
    r = await client.get(f"{ME}/enrollments", headers=tenant.learner_headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    return item


async def answer(client, headers, base, *, right: int):
    """Start an attempt and answer the first `right` questions correctly ("True")."""
    r = await client.post(f"{base}/attempts", headers=headers)
    assert r.status_code == 201, r.text
    attempt = r.json()
    answers = {}
    for i, q in enumerate(attempt["questions"]):
        wanted = "True" if i < right else "False"
        answers[q["id"]] = [o["id"] for o in q["options"] if o["text"] == wanted]
    return await client.post(
        f"{base}/attempts/{attempt['id']}/submit", json={"answers": answers}, headers=headers
    )


@pytest.fixture
async def course(client, tenant):
    return await make_course(client, tenant.admin_headers)


class TestEnroll:
    async def test_bulk_enroll_is_idempotent(self, client, session, tenant, other_tenant, course):
        people = [await make_user(session, tenant.company) for _ in range(5)]
        stranger = other_tenant.learner
        await session.commit()
        assert await assign(tenant, course, [*people, stranger]) == 5
        assert await assign(tenant, course, [*people, tenant.learner]) == 1
        assert await session.scalar(select(func.count()).select_from(Enrollment)) == 6

    async def test_drafts_and_archived_courses_are_refused(self, client, session, tenant):
        draft = await make_course(client, tenant.admin_headers, publish=False)
        from core.exceptions import ValidationFailed

        with pytest.raises(ValidationFailed):
            await assign(tenant, draft)
        live = await make_course(client, tenant.admin_headers)
        await client.post(f"{COURSES}/{live['id']}/archive", headers=tenant.admin_headers)
        with pytest.raises(ValidationFailed, match="published"):
            await assign(tenant, live)
        assert await session.scalar(select(func.count()).select_from(Enrollment)) == 0

    async def test_another_companys_course_is_not_found(self, client, tenant, other_tenant):
        theirs = await make_course(client, other_tenant.admin_headers)
        from core.exceptions import NotFound

        with pytest.raises(NotFound):
            await assign(tenant, theirs)


class TestLearnerViews:
    async def test_my_enrollments_and_detail(self, client, tenant, course):
        await assign(tenant, course, due_at=utcnow() + timedelta(days=14))
        item = await my_enrollment(client, tenant)
        assert item["course_title"] == "Phishing 101"
        assert item["state"] == "not_started"
        r = await client.get(f"{ME}/enrollments/{item['id']}", headers=tenant.learner_headers)
        detail = r.json()
        assert detail["version"] == 1
        lessons = detail["modules"][0]["lessons"]
        assert detail["resume_lesson_id"] == lessons[0]["id"]
        assert "questions" not in str(detail)

    async def test_past_due_reads_overdue(self, client, tenant, course):
        await assign(tenant, course, due_at=utcnow() - timedelta(days=1))
        assert (await my_enrollment(client, tenant))["state"] == "overdue"

    async def test_another_learners_enrollment_is_404(
        self, client, session, tenant, other_tenant, course
    ):
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        lesson = course["lessons"][0]["id"]
        for headers in (tenant.manager_headers, tenant.admin_headers, other_tenant.learner_headers):
            for path in (
                f"{ME}/enrollments/{item['id']}",
                f"{ME}/enrollments/{item['id']}/lessons/{lesson}",
            ):
                r = await client.get(path, headers=headers)
                assert r.status_code == 404
                assert r.json()["error"]["code"] == "enrollment_not_found"
            r = await client.post(
                f"{ME}/enrollments/{item['id']}/lessons/{lesson}/complete",
                json={},
                headers=headers,
            )
            assert r.status_code == 404
        assert await session.scalar(select(func.count()).select_from(LessonProgress)) == 0

    async def test_lesson_of_another_course_is_404(self, client, tenant, course):
        other = await make_course(client, tenant.admin_headers, title="Other")
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        r = await client.post(
            f"{ME}/enrollments/{item['id']}/lessons/{other['lessons'][0]['id']}/complete",
            json={},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "lesson_not_found"

    async def test_quiz_content_has_no_answers(self, client, tenant, course):
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        quiz_id = course["lessons"][2]["id"]
        r = await client.get(
            f"{ME}/enrollments/{item['id']}/lessons/{quiz_id}", headers=tenant.learner_headers
        )
        assert r.json()["question_count"] == 5
        assert "correct" not in r.text
        r = await client.post(
            f"{ME}/enrollments/{item['id']}/quizzes/{quiz_id}/attempts",
            headers=tenant.learner_headers,
        )
        assert r.status_code == 201
        assert "correct" not in r.text
        assert "explanation" not in r.text


class TestCompletion:
    async def test_policy_needs_acknowledgement_and_keeps_time_and_ip(
        self, client, session, tenant, course
    ):
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        path = f"{ME}/enrollments/{item['id']}/lessons/{course['lessons'][1]['id']}/complete"
        r = await client.post(path, json={}, headers=tenant.learner_headers)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "acknowledgement_required"
        assert await session.scalar(select(func.count()).select_from(LessonProgress)) == 0
        r = await client.post(path, json={"acknowledge": True}, headers=tenant.learner_headers)
        assert r.status_code == 200
        progress = await session.scalar(select(LessonProgress))
        assert progress.acknowledged_ip == "203.0.113.7"
        assert progress.acknowledged_statement == "I accept the email policy."
        assert progress.acknowledged_at is not None

    async def test_a_quiz_is_not_marked_done_by_hand(self, client, tenant, course):
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        path = f"{ME}/enrollments/{item['id']}/lessons/{course['lessons'][2]['id']}/complete"
        r = await client.post(path, json={}, headers=tenant.learner_headers)
        assert r.status_code == 422

    async def test_full_journey_fail_pass_certificate_verify(self, client, session, tenant, course):
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        base = f"{ME}/enrollments/{item['id']}"
        h = tenant.learner_headers
        r = await client.post(
            f"{base}/lessons/{course['lessons'][0]['id']}/complete",
            json={"time_spent_seconds": 120},
            headers=h,
        )
        assert r.json()["state"] == "in_progress"
        assert r.json()["percent"] == 33
        await client.post(
            f"{base}/lessons/{course['lessons'][1]['id']}/complete",
            json={"acknowledge": True},
            headers=h,
        )
        quiz_base = f"{base}/quizzes/{course['lessons'][2]['id']}"
        r = await answer(client, h, quiz_base, right=3)
        assert r.status_code == 200, r.text
        assert (r.json()["score"], r.json()["passed"]) == (60, False)
        assert r.json()["results"][0]["explanation"] == "Because."
        assert r.json()["enrollment"]["state"] == "in_progress"
        r = await answer(client, h, quiz_base, right=5)
        assert (r.json()["score"], r.json()["passed"]) == (100, True)
        enrollment = r.json()["enrollment"]
        assert (enrollment["state"], enrollment["percent"]) == ("completed", 100)
        assert enrollment["time_spent_seconds"] >= 120

        r = await client.get(f"{ME}/certificates", headers=h)
        (cert,) = r.json()["items"]
        assert len(cert["code"]) >= 27  # 160 random bits, URL-safe base64
        assert cert["verify_url"].endswith(f"/certificates/verify/{cert['code']}")
        r = await client.get(f"{ME}/certificates/{cert['id']}.pdf", headers=h)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        r = await client.get(f"/certificates/verify/{cert['code']}")
        assert r.status_code == 200
        assert r.json() == {
            "valid": True,
            "learner_name": tenant.learner.full_name,
            "course_title": "Phishing 101",
            "company_name": "Acme",
            "issued_at": r.json()["issued_at"],
        }
        assert await session.scalar(select(func.count()).select_from(Certificate)) == 1

    async def test_unknown_certificate_code_is_a_plain_404(self, client):
        r = await client.get(f"/certificates/verify/{'x' * 27}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "certificate_not_found"

    async def test_someone_elses_certificate_pdf_is_404(self, client, tenant, other_tenant):
        r = await client.get(
            f"{ME}/certificates/{uuid.uuid4()}.pdf", headers=tenant.learner_headers
        )
        assert r.status_code == 404


class TestQuizAttempts:
    @pytest.fixture
    async def quiz_path(self, client, tenant):
        course = await make_course(client, tenant.admin_headers, [quiz(max_attempts=2)])
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        return f"{ME}/enrollments/{item['id']}/quizzes/{course['lessons'][0]['id']}"

    async def test_attempts_are_limited(self, client, tenant, quiz_path):
        h = tenant.learner_headers
        assert (await answer(client, h, quiz_path, right=0)).json()["attempts_left"] == 1
        assert (await answer(client, h, quiz_path, right=0)).json()["attempts_left"] == 0
        r = await client.post(f"{quiz_path}/attempts", headers=h)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "no_attempts_left"

    async def test_an_open_attempt_is_resumed_not_burnt(self, client, tenant, quiz_path):
        h = tenant.learner_headers
        first = (await client.post(f"{quiz_path}/attempts", headers=h)).json()
        again = (await client.post(f"{quiz_path}/attempts", headers=h)).json()
        assert first["id"] == again["id"]
        assert first["questions"] == again["questions"]

    async def test_order_is_shuffled_per_attempt(self, client, session, tenant):
        course = await make_course(client, tenant.admin_headers, [quiz(30)])
        await assign(tenant, course)
        item = await my_enrollment(client, tenant)
        path = f"{ME}/enrollments/{item['id']}/quizzes/{course['lessons'][0]['id']}"
        orders = []
        for _ in range(2):
            r = await client.post(f"{path}/attempts", headers=tenant.learner_headers)
            orders.append([q["id"] for q in r.json()["questions"]])
            await client.post(
                f"{path}/attempts/{r.json()['id']}/submit",
                json={"answers": {}},
                headers=tenant.learner_headers,
            )
        assert sorted(orders[0]) == sorted(orders[1])
        assert orders[0] != orders[1]  # 30! orders: equal by chance essentially never

    @pytest.mark.parametrize(
        "answers",
        [{"not-a-question": []}, "unknown-option", "two-for-one"],
    )
    async def test_bad_answers_are_422_and_change_nothing(
        self, client, session, tenant, quiz_path, answers
    ):
        h = tenant.learner_headers
        attempt = (await client.post(f"{quiz_path}/attempts", headers=h)).json()
        q = attempt["questions"][0]
        if answers == "unknown-option":
            answers = {q["id"]: [str(uuid.uuid4())]}
        elif answers == "two-for-one":
            answers = {q["id"]: [o["id"] for o in q["options"]]}
        r = await client.post(
            f"{quiz_path}/attempts/{attempt['id']}/submit", json={"answers": answers}, headers=h
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_answers"
        stored = await session.scalar(select(QuizAttempt))
        assert stored.submitted_at is None

    async def test_answers_for_another_learners_attempt_are_404(
        self, client, session, tenant, quiz_path
    ):
        attempt = (
            await client.post(f"{quiz_path}/attempts", headers=tenant.learner_headers)
        ).json()
        r = await client.post(
            f"{quiz_path}/attempts/{attempt['id']}/submit",
            json={"answers": {}},
            headers=tenant.manager_headers,
        )
        assert r.status_code == 404
        # And an attempt id that is not of this quiz, on the learner's own enrollment.
        r = await client.post(
            f"{quiz_path}/attempts/{uuid.uuid4()}/submit",
            json={"answers": {}},
            headers=tenant.learner_headers,
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "attempt_not_found"
        assert (await session.scalar(select(QuizAttempt))).submitted_at is None

    async def test_a_submitted_attempt_cannot_be_submitted_again(self, client, tenant, quiz_path):
        h = tenant.learner_headers
        attempt = (await client.post(f"{quiz_path}/attempts", headers=h)).json()
        url = f"{quiz_path}/attempts/{attempt['id']}/submit"
        assert (await client.post(url, json={"answers": {}}, headers=h)).status_code == 200
        r = await client.post(url, json={"answers": {}}, headers=h)
        assert r.status_code == 409


class TestVersions:
    async def test_a_new_publish_leaves_enrolled_learners_on_their_version(
        self, client, tenant, course
    ):
        await assign(tenant, course)
        module, lesson = course["module"]["id"], course["lessons"][0]["id"]
        await client.patch(
            f"{COURSES}/{course['id']}/modules/{module}/lessons/{lesson}",
            json={"title": "Renamed"},
            headers=tenant.admin_headers,
        )
        await client.post(f"{COURSES}/{course['id']}/publish", headers=tenant.admin_headers)
        item = await my_enrollment(client, tenant)
        r = await client.get(f"{ME}/enrollments/{item['id']}", headers=tenant.learner_headers)
        assert r.json()["version"] == 1
        assert r.json()["modules"][0]["lessons"][0]["title"] == "Read me"
