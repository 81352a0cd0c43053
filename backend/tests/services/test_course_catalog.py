"""The starter-content loader: YAML course files → published platform courses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.session import unit_of_work
from models.course import Course, CourseVersion, Lesson
from services.course_catalog import COURSES_DIR, CourseFileError, load_catalog, read_catalog

FIXTURE = Path(__file__).parent.parent / "data" / "courses" / "test-course.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(FIXTURE, tmp_path / FIXTURE.name)
    return tmp_path


async def load(folder: Path) -> dict[str, str]:
    async with unit_of_work() as session:
        return await load_catalog(session, folder)


class TestLoad:
    async def test_loads_a_published_platform_course_once(self, session, folder):
        assert await load(folder) == {"test-course": "created"}
        assert await load(folder) == {"test-course": "unchanged"}
        course = await session.scalar(select(Course))
        assert (course.is_platform, course.status, course.version) == (True, "published", 1)
        version = await session.scalar(select(CourseVersion))
        lessons = [x for m in version.content["modules"] for x in m["lessons"]]
        assert [x["kind"] for x in lessons] == ["text", "policy", "quiz"]
        assert "<strong>pretends</strong>" in lessons[0]["body_html"]
        assert len(lessons[2]["questions"]) == 5

    async def test_a_changed_file_publishes_a_new_version(self, session, folder):
        await load(folder)
        path = folder / "test-course.yaml"
        path.write_text(path.read_text().replace("What phishing is", "What phishing really is"))
        assert await load(folder) == {"test-course": "updated"}
        versions = (
            await session.scalars(select(CourseVersion).order_by(CourseVersion.version))
        ).all()
        titles = [v.content["modules"][0]["lessons"][0]["title"] for v in versions]
        assert titles == ["What phishing is", "What phishing really is"]
        assert await session.scalar(select(func.count()).select_from(Lesson)) == 3

    async def test_every_company_sees_it(self, client, tenant, other_tenant, folder):
        await load(folder)
        for t in (tenant, other_tenant):
            r = await client.get("/api/v1/courses", headers=t.admin_headers)
            assert [c["slug"] for c in r.json()["items"]] == ["test-course"]


class TestValidation:
    @pytest.mark.parametrize(
        ("old", "new", "where"),
        [
            ("pass_mark: 80", "pass_mark: 180", "modules[1].lessons[0].pass_mark"),
            (
                "      - kind: single\n            prompt: What do you do",
                "      - kind: single\n            prompt: What do you do",
                None,
            ),
            ("{text: Nobody legitimate, correct: true}", "{text: Nobody legitimate}", None),
            ("slug: test-course", "slug: other", "slug"),
            ("kind: text", "kind: video", "modules[0].lessons[0].kind"),
        ],
    )
    async def test_errors_name_the_file_and_place(self, session, folder, old, new, where):
        path = folder / "test-course.yaml"
        text = path.read_text()
        if old == new:  # drop a question: four are too few
            start = text.index("          - kind: single\n            prompt: What do you do")
            text = text[:start]
        else:
            text = text.replace(old, new)
        path.write_text(text)
        with pytest.raises(CourseFileError) as exc:
            await load(folder)
        message = str(exc.value)
        assert message.startswith("test-course.yaml: ")
        if where:
            assert where in message
        assert await session.scalar(select(func.count()).select_from(Course)) == 0

    async def test_script_in_markdown_is_refused(self, session, folder):
        path = folder / "test-course.yaml"
        path.write_text(path.read_text().replace("A message that", "<script>x()</script> A"))
        with pytest.raises(CourseFileError, match=r"modules\[0\]\.lessons\[0\]"):
            await load(folder)

    def test_shipped_course_files_are_valid(self):
        if COURSES_DIR.is_dir():
            read_catalog(COURSES_DIR)
