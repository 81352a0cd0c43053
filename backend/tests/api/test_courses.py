"""Course authoring: catalog visibility, platform courses read-only, structure, Markdown
safety, media ownership, publishing frozen versions."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models.company import Company
from models.course import Course, CourseVersion, Lesson
from tests.factories import bearer, make_platform_admin
from tests.support.training import COURSES, TEXT, make_course, quiz


async def count(session, model) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
async def operator(session):
    admin = await make_platform_admin(session)
    await session.commit()
    return bearer(admin)


class TestCatalog:
    async def test_admin_builds_and_publishes_a_course(self, client, session, tenant):
        course = await make_course(client, tenant.admin_headers)
        assert course["status"] == "published"
        assert course["version"] == 1
        assert course["is_platform"] is False
        version = await session.scalar(select(CourseVersion))
        lessons = version.content["modules"][0]["lessons"]
        assert [x["kind"] for x in lessons] == ["text", "policy", "quiz"]
        assert lessons[0]["body_html"] == "<h1>Hello</h1>\n<p>Some <strong>text</strong>.</p>\n"

    async def test_platform_course_is_visible_to_all_and_read_only(
        self, client, tenant, other_tenant, operator
    ):
        course = await make_course(client, operator, title="Passwords")
        assert course["is_platform"] is True
        for t in (tenant, other_tenant):
            r = await client.get(COURSES, headers=t.admin_headers)
            assert [c["id"] for c in r.json()["items"]] == [course["id"]]
            r = await client.patch(
                f"{COURSES}/{course['id']}", json={"title": "Mine"}, headers=t.admin_headers
            )
            assert r.status_code == 403
            assert r.json()["error"]["code"] == "course_read_only"
            r = await client.post(
                f"{COURSES}/{course['id']}/modules", json={"title": "x"}, headers=t.admin_headers
            )
            assert r.status_code == 403

    async def test_platform_drafts_stay_with_the_operator(self, client, tenant, operator):
        await make_course(client, operator, publish=False)
        r = await client.get(COURSES, headers=tenant.admin_headers)
        assert r.json()["items"] == []

    async def test_other_company_course_returns_404(self, client, tenant, other_tenant):
        course = await make_course(client, other_tenant.admin_headers)
        for method, path in [
            ("GET", f"{COURSES}/{course['id']}"),
            ("PATCH", f"{COURSES}/{course['id']}"),
            ("DELETE", f"{COURSES}/{course['id']}"),
            ("POST", f"{COURSES}/{course['id']}/publish"),
            ("GET", f"{COURSES}/{course['id']}/modules"),
            ("GET", f"{COURSES}/{course['id']}/modules/{course['module']['id']}/lessons"),
        ]:
            body: dict[str, str] | None = {} if method in ("PATCH", "POST") else None
            r = await client.request(method, path, json=body, headers=tenant.admin_headers)
            assert r.status_code == 404, (method, path)
            assert r.json()["error"]["code"] == "course_not_found"
        r = await client.get(COURSES, headers=tenant.admin_headers)
        assert r.json()["items"] == []

    async def test_learners_and_managers_cannot_author(self, client, tenant):
        for headers in (tenant.learner_headers, tenant.manager_headers):
            r = await client.post(COURSES, json={"title": "x"}, headers=headers)
            assert r.status_code == 403


class TestPublishing:
    async def test_a_new_publish_writes_a_new_version_and_keeps_the_old(
        self, client, session, tenant
    ):
        course = await make_course(client, tenant.admin_headers)
        module = course["module"]["id"]
        lesson = course["lessons"][0]["id"]
        r = await client.patch(
            f"{COURSES}/{course['id']}/modules/{module}/lessons/{lesson}",
            json={"body": "Changed"},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        r = await client.post(f"{COURSES}/{course['id']}/publish", headers=tenant.admin_headers)
        assert r.json()["version"] == 2
        versions = (
            await session.scalars(select(CourseVersion).order_by(CourseVersion.version))
        ).all()
        bodies = [v.content["modules"][0]["lessons"][0]["body_html"] for v in versions]
        assert bodies == [
            "<h1>Hello</h1>\n<p>Some <strong>text</strong>.</p>\n",
            "<p>Changed</p>\n",
        ]

    async def test_an_empty_course_cannot_be_published(self, client, session, tenant):
        course = await make_course(client, tenant.admin_headers, [], publish=False)
        r = await client.post(f"{COURSES}/{course['id']}/publish", headers=tenant.admin_headers)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "course_empty"
        assert await count(session, CourseVersion) == 0

    async def test_archive(self, client, tenant):
        course = await make_course(client, tenant.admin_headers)
        r = await client.post(f"{COURSES}/{course['id']}/archive", headers=tenant.admin_headers)
        assert r.json()["status"] == "archived"

    async def test_delete_an_unused_course(self, client, session, tenant):
        course = await make_course(client, tenant.admin_headers)
        r = await client.delete(f"{COURSES}/{course['id']}", headers=tenant.admin_headers)
        assert r.status_code == 204
        r = await client.get(f"{COURSES}/{course['id']}", headers=tenant.admin_headers)
        assert r.status_code == 404


class TestLessons:
    @pytest.mark.parametrize(
        "body",
        [
            "Hi <script>alert(1)</script>",
            'Look: <img src="x.png" onerror="alert(1)">',
            '<a href="javascript:alert(1)">x</a>',
            "<iframe src='https://x.example.com'></iframe>",
        ],
    )
    async def test_markdown_with_script_is_refused(self, client, session, tenant, body):
        course = await make_course(client, tenant.admin_headers, [], publish=False)
        path = f"{COURSES}/{course['id']}/modules/{course['module']['id']}/lessons"
        r = await client.post(path, json={**TEXT, "body": body}, headers=tenant.admin_headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "unsafe_markup"
        assert await count(session, Lesson) == 0

    async def test_harmless_html_is_kept_sanitized(self, client, tenant):
        course = await make_course(client, tenant.admin_headers, [], publish=False)
        path = f"{COURSES}/{course['id']}/modules/{course['module']['id']}/lessons"
        r = await client.post(
            path,
            json={**TEXT, "body": 'A <b>bold</b> [link](https://x.example.com) <span class="x">s'},
            headers=tenant.admin_headers,
        )
        html = r.json()["body_html"]
        assert "<b>bold</b>" in html
        assert 'rel="noopener noreferrer"' in html
        assert 'class="x"' not in html

    @pytest.mark.parametrize(
        "lesson",
        [
            {"kind": "text", "title": "No body"},
            {"kind": "policy", "title": "p", "body": "x"},
            {"kind": "quiz", "title": "q", "pass_mark": 80},
            {**quiz(), "pass_mark": 0},
            {
                **quiz(1),
                "questions": [
                    {
                        "kind": "single",
                        "prompt": "two right?",
                        "options": [{"text": "a", "correct": True}, {"text": "b", "correct": True}],
                    }
                ],
            },
            {
                **quiz(1),
                "questions": [
                    {
                        "kind": "true_false",
                        "prompt": "p",
                        "options": [{"text": "Yes", "correct": True}, {"text": "No"}],
                    }
                ],
            },
            {**TEXT, "company_id": str(uuid.uuid4())},
        ],
    )
    async def test_bad_lessons_are_422(self, client, session, tenant, lesson):
        course = await make_course(client, tenant.admin_headers, [], publish=False)
        path = f"{COURSES}/{course['id']}/modules/{course['module']['id']}/lessons"
        r = await client.post(path, json=lesson, headers=tenant.admin_headers)
        assert r.status_code == 422, r.text
        assert "error" in r.json()
        assert await count(session, Lesson) == 0

    async def test_media_must_be_a_file_of_the_company(self, client, session, tenant, other_tenant):
        course = await make_course(client, tenant.admin_headers, [], publish=False)
        path = f"{COURSES}/{course['id']}/modules/{course['module']['id']}/lessons"
        media = {"kind": "media", "title": "Video", "media_type": "video/mp4"}
        for key in (f"{other_tenant.company.id}/x.mp4", f"{tenant.company.id}/../x.mp4"):
            r = await client.post(
                path, json={**media, "file_key": key}, headers=tenant.admin_headers
            )
            assert r.status_code == 422
            assert r.json()["error"]["code"] == "file_not_yours"
        assert await count(session, Lesson) == 0
        own = f"{tenant.company.id}/{uuid.uuid4()}.mp4"
        r = await client.post(path, json={**media, "file_key": own}, headers=tenant.admin_headers)
        assert r.status_code == 201

    async def test_update_checks_the_whole_lesson(self, client, tenant):
        course = await make_course(client, tenant.admin_headers, [quiz()], publish=False)
        path = (
            f"{COURSES}/{course['id']}/modules/{course['module']['id']}"
            f"/lessons/{course['lessons'][0]['id']}"
        )
        r = await client.patch(
            path, json={"body": "<script>x</script>"}, headers=tenant.admin_headers
        )
        assert r.status_code == 422
        r = await client.patch(path, json={"pass_mark": 60}, headers=tenant.admin_headers)
        assert r.status_code == 200
        assert r.json()["pass_mark"] == 60
        assert len(r.json()["questions"]) == 5

    async def test_lessons_of_another_module_are_404(self, client, tenant, other_tenant):
        mine = await make_course(client, tenant.admin_headers, publish=False)
        theirs = await make_course(client, other_tenant.admin_headers, publish=False)
        path = (
            f"{COURSES}/{mine['id']}/modules/{mine['module']['id']}"
            f"/lessons/{theirs['lessons'][0]['id']}"
        )
        r = await client.patch(path, json={"title": "x"}, headers=tenant.admin_headers)
        assert r.status_code == 404
        path = f"{COURSES}/{mine['id']}/modules/{theirs['module']['id']}"
        r = await client.delete(path, headers=tenant.admin_headers)
        assert r.status_code == 404

    async def test_modules_are_ordered_and_deletable(self, client, session, tenant):
        course = await make_course(client, tenant.admin_headers, publish=False)
        r = await client.post(
            f"{COURSES}/{course['id']}/modules",
            json={"title": "First", "position": 0},
            headers=tenant.admin_headers,
        )
        # Equal positions keep creation order.
        r = await client.get(f"{COURSES}/{course['id']}/modules", headers=tenant.admin_headers)
        assert [m["title"] for m in r.json()] == ["Basics", "First"]
        r = await client.delete(
            f"{COURSES}/{course['id']}/modules/{course['module']['id']}",
            headers=tenant.admin_headers,
        )
        assert r.status_code == 204
        assert await count(session, Lesson) == 0
        assert await count(session, Course) == 1
        assert await session.scalar(select(func.count()).select_from(Company)) == 1
