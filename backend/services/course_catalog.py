"""Starter content: platform courses kept as YAML files in `core/data/courses/<slug>.yaml`
(one course a file; format in backend/README.md, "Training"), loaded by `make seed`.

Each file is validated as a whole before anything is written; an error names the file and
the place inside it (`phishing-basics.yaml: modules[0].lessons[2].questions[1]: ...`).
Courses are upserted by slug into the operator's company as published platform courses:
an unchanged file does nothing, a changed one replaces the draft structure and publishes a
new version (learners already enrolled keep theirs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import anyio
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import BACKEND_DIR
from core.exceptions import AppError
from db.scoping import bind_tenant
from models.company import Company
from models.course import Course, CourseModule, Lesson, LessonKind
from schemas.course import Language, LessonFields, Minutes, Tag, Title
from services.course_content import apply_fields
from services.courses import publish_version

COURSES_DIR = BACKEND_DIR / "core" / "data" / "courses"
PLATFORM_COMPANY = "Vigil operator"
MIN_QUESTIONS = 5


class CourseFileError(ValueError):
    """A course file that cannot be loaded; the message names the file and the place."""


class LessonFile(LessonFields):
    @field_validator("questions")
    @classmethod
    def _enough(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and len(value) < MIN_QUESTIONS:
            raise ValueError(f"a quiz needs at least {MIN_QUESTIONS} questions")
        return value


class ModuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Title
    lessons: Annotated[list[LessonFile], Field(min_length=1)]


class CourseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)]
    title: Title
    description: Annotated[str, Field(max_length=5000)] = ""
    language: Language = "en"
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    estimated_minutes: Minutes = 0
    modules: Annotated[list[ModuleFile], Field(min_length=1)]


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def read_course_file(path: Path) -> tuple[CourseFile, str]:
    """Parse and check one file; returns the course and a hash of the file's content."""
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise CourseFileError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        course = CourseFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CourseFileError(f"{path.name}: {problems}") from exc
    if course.slug != path.stem:
        raise CourseFileError(f"{path.name}: slug: must match the file name ({path.stem!r})")
    return course, hashlib.sha256(raw).hexdigest()


def read_catalog(directory: Path) -> list[tuple[CourseFile, str]]:
    return [read_course_file(p) for p in sorted(directory.glob("*.yaml"))]


async def platform_company(session: AsyncSession) -> Company:
    company = await session.scalar(select(Company).where(Company.is_platform.is_(True)))
    if company is None:
        company = Company(name=PLATFORM_COMPANY, is_platform=True)
        session.add(company)
        await session.flush()
    return company


async def load_catalog(session: AsyncSession, directory: Path = COURSES_DIR) -> dict[str, str]:
    """Load every `*.yaml` in `directory`; returns {slug: created|updated|unchanged}.
    All files are checked first, so one bad file loads nothing."""
    files = await anyio.to_thread.run_sync(read_catalog, directory)
    company = await platform_company(session)
    await bind_tenant(session, company.id)
    outcome = {}
    for course_file, digest in files:
        outcome[course_file.slug] = await upsert_course(session, company, course_file, digest)
    return outcome


async def upsert_course(
    session: AsyncSession, company: Company, data: CourseFile, digest: str
) -> str:
    course = await session.scalar(
        select(Course).where(Course.company_id == company.id, Course.slug == data.slug)
    )
    if course is not None and course.source_hash == digest:
        return "unchanged"
    outcome = "updated" if course else "created"
    if course is None:
        course = Course(company_id=company.id, is_platform=True, slug=data.slug)
        session.add(course)
    for field in ("title", "description", "language", "tags", "estimated_minutes"):
        setattr(course, field, getattr(data, field))
    course.source_hash = digest
    await session.flush()
    await session.execute(delete(Lesson).where(Lesson.course_id == course.id))
    await session.execute(delete(CourseModule).where(CourseModule.course_id == course.id))
    for m, module_file in enumerate(data.modules):
        module = CourseModule(
            company_id=company.id, is_platform=True, course_id=course.id, position=m
        )
        module.title = module_file.title
        session.add(module)
        await session.flush()
        for n, lesson_file in enumerate(module_file.lessons):
            lesson = Lesson(
                company_id=company.id,
                is_platform=True,
                course_id=course.id,
                module_id=module.id,
                position=n,
                kind=LessonKind(lesson_file.kind),
            )
            try:
                apply_fields(lesson, lesson_file, owner=company.id)
            except AppError as exc:
                where = f"modules[{m}].lessons[{n}]"
                raise CourseFileError(f"{data.slug}.yaml: {where}: {exc} {exc.details}") from exc
            session.add(lesson)
    await session.flush()
    await publish_version(session, course)
    return outcome
