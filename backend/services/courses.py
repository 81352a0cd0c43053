"""Courses: the catalog (platform courses + the company's own), their life cycle, and the
frozen version written at every publish.

A company sees its own courses and the published (or archived) platform courses; it can
change only its own. Publishing writes an immutable `CourseVersion` (the whole tree as JSON,
quiz answers included) and enrollments point at a version: editing and publishing again
never changes the course under a learner who is in the middle of it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, RequestMeta
from models.course import Course, CourseModule, CourseStatus, CourseVersion, Lesson
from models.enrollment import Enrollment
from models.user import Role
from schemas.course import CourseCreate, CourseUpdate
from services import audit


class CourseNotFound(NotFound):
    code = "course_not_found"
    message = "No such course."


class CourseReadOnly(PermissionDenied):
    code = "course_read_only"
    message = "Platform courses are read-only; copy the content into a course of your own."


class CourseEmpty(ValidationFailed):
    code = "course_empty"
    message = "A course needs at least one lesson before it can be published."


class CourseInUse(Conflict):
    code = "course_in_use"
    message = "People are enrolled in this course; archive it instead of deleting it."


def visible_courses(auth: AuthContext) -> Select[Any]:
    """Own courses, and platform courses once published (drafts stay with the operator)."""
    return select(Course).where(
        or_(
            Course.company_id == auth.company_id,
            and_(Course.is_platform.is_(True), Course.status != CourseStatus.draft),
        )
    )


async def get_course(session: AsyncSession, auth: AuthContext, course_id: uuid.UUID) -> Course:
    course = await session.scalar(visible_courses(auth).where(Course.id == course_id))
    if course is None:
        raise CourseNotFound()
    return course  # type: ignore[no-any-return]


async def get_own_course(session: AsyncSession, auth: AuthContext, course_id: uuid.UUID) -> Course:
    """A course the caller may change: their company's own (a platform admin's are the
    platform's). Someone else's platform course is visible but read-only (403)."""
    course = await get_course(session, auth, course_id)
    if course.company_id != auth.company_id:
        raise CourseReadOnly()
    return course


async def list_courses(
    session: AsyncSession,
    auth: AuthContext,
    page: PageParams,
    *,
    status: CourseStatus | None = None,
    platform: bool | None = None,
) -> PageResult[Course]:
    stmt = visible_courses(auth)
    if status is not None:
        stmt = stmt.where(Course.status == status)
    if platform is not None:
        stmt = stmt.where(Course.is_platform.is_(platform))
    return await paginate(session, stmt, page, order_by=(Course.id,))


async def create_course(
    session: AsyncSession, auth: AuthContext, data: CourseCreate, *, meta: RequestMeta
) -> Course:
    course = Course(
        company_id=auth.company_id,
        is_platform=auth.role is Role.platform_admin,
        **data.model_dump(),
    )
    session.add(course)
    await session.flush()
    await audit.record(
        session,
        "course.created",
        auth=auth,
        target=("course", course.id),
        meta=meta,
        changes={"title": course.title},
    )
    return course


async def update_course(
    session: AsyncSession,
    auth: AuthContext,
    course_id: uuid.UUID,
    data: CourseUpdate,
    *,
    meta: RequestMeta,
) -> Course:
    course = await get_own_course(session, auth, course_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    for field, value in changes.items():
        setattr(course, field, value)
    await session.flush()
    await audit.record(
        session,
        "course.updated",
        auth=auth,
        target=("course", course.id),
        meta=meta,
        changes={"fields": sorted(changes)},
    )
    return course


async def delete_course(
    session: AsyncSession, auth: AuthContext, course_id: uuid.UUID, *, meta: RequestMeta
) -> None:
    course = await get_own_course(session, auth, course_id)
    if await session.scalar(select(exists().where(Enrollment.course_id == course.id))):
        raise CourseInUse()
    course.soft_delete()
    await audit.record(
        session, "course.deleted", auth=auth, target=("course", course.id), meta=meta
    )


async def publish_course(
    session: AsyncSession, auth: AuthContext, course_id: uuid.UUID, *, meta: RequestMeta
) -> Course:
    course = await get_own_course(session, auth, course_id)
    version = await publish_version(session, course)
    await audit.record(
        session,
        "course.published",
        auth=auth,
        target=("course", course.id),
        meta=meta,
        changes={"version": version.version},
    )
    return course


async def archive_course(
    session: AsyncSession, auth: AuthContext, course_id: uuid.UUID, *, meta: RequestMeta
) -> Course:
    """No new enrollments; people already enrolled finish their version as before."""
    course = await get_own_course(session, auth, course_id)
    course.status = CourseStatus.archived
    await session.flush()
    await audit.record(
        session, "course.archived", auth=auth, target=("course", course.id), meta=meta
    )
    return course


async def publish_version(session: AsyncSession, course: Course) -> CourseVersion:
    """Freeze the course as it is now into version N+1 and make it the published one."""
    content = await snapshot(session, course)
    if not any(m["lessons"] for m in content["modules"]):
        raise CourseEmpty()
    course.version += 1
    course.status = CourseStatus.published
    version = CourseVersion(
        company_id=course.company_id,
        is_platform=course.is_platform,
        course_id=course.id,
        version=course.version,
        content=content,
    )
    session.add(version)
    await session.flush()
    return version


async def current_version(session: AsyncSession, course: Course) -> CourseVersion | None:
    found = await session.scalar(
        select(CourseVersion).where(
            CourseVersion.course_id == course.id, CourseVersion.version == course.version
        )
    )
    return found


async def snapshot(session: AsyncSession, course: Course) -> dict[str, Any]:
    modules = (
        await session.scalars(
            select(CourseModule)
            .where(CourseModule.course_id == course.id)
            .order_by(CourseModule.position, CourseModule.id)
        )
    ).all()
    lessons = (
        await session.scalars(
            select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position, Lesson.id)
        )
    ).all()
    by_module: dict[uuid.UUID, list[dict[str, Any]]] = {m.id: [] for m in modules}
    for lesson in lessons:
        by_module[lesson.module_id].append(_frozen_lesson(lesson))
    return {
        "title": course.title,
        "description": course.description,
        "language": course.language,
        "tags": list(course.tags),
        "estimated_minutes": course.estimated_minutes,
        "modules": [
            {"id": str(m.id), "title": m.title, "lessons": by_module[m.id]} for m in modules
        ],
    }


def _frozen_lesson(lesson: Lesson) -> dict[str, Any]:
    return {
        "id": str(lesson.id),
        "kind": lesson.kind.value,
        "title": lesson.title,
        "estimated_minutes": lesson.estimated_minutes,
        "body_html": lesson.body_html,
        "statement": lesson.statement,
        "file_key": lesson.file_key,
        "media_type": lesson.media_type,
        "pass_mark": lesson.pass_mark,
        "max_attempts": lesson.max_attempts,
        "questions": lesson.questions,
    }


async def next_position(session: AsyncSession, column: Any, *where: Any) -> int:
    highest = await session.scalar(select(func.max(column)).where(*where))
    return 0 if highest is None else int(highest) + 1
