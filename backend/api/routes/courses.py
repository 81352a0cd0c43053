"""Course authoring: the catalog (platform courses + the company's own) and its structure."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.dependencies.auth import MetaDep, require
from api.dependencies.common import PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from core.permissions import Permission
from db.scoping import AuthContext
from models.course import CourseStatus
from schemas.base import ErrorResponse, Page
from schemas.course import (
    CourseCreate,
    CourseRead,
    CourseUpdate,
    LessonCreate,
    LessonRead,
    LessonUpdate,
    ModuleCreate,
    ModuleRead,
    ModuleUpdate,
)
from services import course_content, courses

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/courses", tags=["training"])

Manage = Annotated[AuthContext, Depends(require(Permission.content_manage))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("")
async def list_courses(
    auth: Manage,
    session: SessionDep,
    page: PageDep,
    status: CourseStatus | None = None,
    platform: Annotated[bool | None, Query(description="Only platform (or own) courses.")] = None,
) -> Page[CourseRead]:
    """The catalog: published platform courses and the company's own courses."""
    result = await courses.list_courses(session, auth, page, status=status, platform=platform)
    return Page[CourseRead](
        items=[CourseRead.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.post("", status_code=201, responses=_ERRORS)
async def create_course(
    body: CourseCreate, auth: Manage, session: SessionDep, meta: MetaDep
) -> CourseRead:
    """Create a draft course (a platform course when a platform admin creates it)."""
    return CourseRead.model_validate(await courses.create_course(session, auth, body, meta=meta))


@router.get("/{course_id}", responses=_ERRORS)
async def get_course(course_id: uuid.UUID, auth: Manage, session: SessionDep) -> CourseRead:
    """One course."""
    return CourseRead.model_validate(await courses.get_course(session, auth, course_id))


@router.patch("/{course_id}", responses=_ERRORS)
async def update_course(
    course_id: uuid.UUID,
    body: CourseUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> CourseRead:
    """Change a course's details (learners see them at the next publish)."""
    course = await courses.update_course(session, auth, course_id, body, meta=meta)
    return CourseRead.model_validate(course)


@router.delete(
    "/{course_id}", status_code=204, responses={**_ERRORS, 409: {"model": ErrorResponse}}
)
async def delete_course(
    course_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> None:
    """Delete a course nobody is enrolled in (otherwise archive it)."""
    await courses.delete_course(session, auth, course_id, meta=meta)


@router.post("/{course_id}/publish", responses=_ERRORS)
async def publish_course(
    course_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> CourseRead:
    """Freeze the course as it is now into a new version that new enrollments get;
    people already enrolled keep the version they started."""
    return CourseRead.model_validate(
        await courses.publish_course(session, auth, course_id, meta=meta)
    )


@router.post("/{course_id}/archive", responses=_ERRORS)
async def archive_course(
    course_id: uuid.UUID, auth: Manage, session: SessionDep, meta: MetaDep
) -> CourseRead:
    """Stop new enrollments; current learners can finish."""
    return CourseRead.model_validate(
        await courses.archive_course(session, auth, course_id, meta=meta)
    )


@router.get("/{course_id}/modules", responses=_ERRORS)
async def list_modules(course_id: uuid.UUID, auth: Manage, session: SessionDep) -> list[ModuleRead]:
    """The course's modules, in order."""
    modules = await course_content.list_modules(session, auth, course_id)
    return [ModuleRead.model_validate(m) for m in modules]


@router.post("/{course_id}/modules", status_code=201, responses=_ERRORS)
async def create_module(
    course_id: uuid.UUID,
    body: ModuleCreate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> ModuleRead:
    """Add a module."""
    module = await course_content.create_module(session, auth, course_id, body, meta=meta)
    return ModuleRead.model_validate(module)


@router.patch("/{course_id}/modules/{module_id}", responses=_ERRORS)
async def update_module(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    body: ModuleUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> ModuleRead:
    """Rename or move a module."""
    module = await course_content.update_module(
        session, auth, course_id, module_id, body, meta=meta
    )
    return ModuleRead.model_validate(module)


@router.delete("/{course_id}/modules/{module_id}", status_code=204, responses=_ERRORS)
async def delete_module(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> None:
    """Remove a module and its lessons from the draft."""
    await course_content.delete_module(session, auth, course_id, module_id, meta=meta)


@router.get("/{course_id}/modules/{module_id}/lessons", responses=_ERRORS)
async def list_lessons(
    course_id: uuid.UUID, module_id: uuid.UUID, auth: Manage, session: SessionDep
) -> list[LessonRead]:
    """The module's lessons, in order, with quiz answers (for authors)."""
    lessons = await course_content.list_lessons(session, auth, course_id, module_id)
    return [LessonRead.model_validate(lesson) for lesson in lessons]


@router.post("/{course_id}/modules/{module_id}/lessons", status_code=201, responses=_ERRORS)
async def create_lesson(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    body: LessonCreate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> LessonRead:
    """Add a lesson: text or policy (Markdown), media (an uploaded file) or quiz."""
    lesson = await course_content.create_lesson(
        session, auth, course_id, module_id, body, meta=meta
    )
    return LessonRead.model_validate(lesson)


@router.patch("/{course_id}/modules/{module_id}/lessons/{lesson_id}", responses=_ERRORS)
async def update_lesson(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    lesson_id: uuid.UUID,
    body: LessonUpdate,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> LessonRead:
    """Change a lesson (its kind stays)."""
    lesson = await course_content.update_lesson(
        session, auth, (course_id, module_id, lesson_id), body, meta=meta
    )
    return LessonRead.model_validate(lesson)


@router.delete(
    "/{course_id}/modules/{module_id}/lessons/{lesson_id}", status_code=204, responses=_ERRORS
)
async def delete_lesson(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    lesson_id: uuid.UUID,
    auth: Manage,
    session: SessionDep,
    meta: MetaDep,
) -> None:
    """Remove a lesson from the draft."""
    await course_content.delete_lesson(session, auth, (course_id, module_id, lesson_id), meta=meta)
