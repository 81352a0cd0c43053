"""The structure of a course an author edits: ordered modules, ordered lessons.

Lesson Markdown is rendered to sanitized HTML when written (`services.markdown`); quiz
questions get server ids; media must be a file of the author's own company. Changes touch
the draft only: learners see a course as it was when it was last published.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import NotFound, ValidationFailed
from db.scoping import AuthContext, RequestMeta
from models.base import new_id
from models.course import Course, CourseModule, Lesson
from schemas.course import (
    LessonCreate,
    LessonFields,
    LessonUpdate,
    ModuleCreate,
    ModuleUpdate,
    QuestionIn,
)
from services import audit, markdown
from services.courses import get_course, get_own_course, next_position


class ModuleNotFound(NotFound):
    code = "module_not_found"
    message = "No such module in this course."


class LessonNotFound(NotFound):
    code = "lesson_not_found"
    message = "No such lesson in this module."


class ForeignFile(ValidationFailed):
    code = "file_not_yours"
    message = "Media lessons may only use files uploaded by your company (POST /files)."


# --- modules ---------------------------------------------------------------------------


async def list_modules(
    session: AsyncSession, auth: AuthContext, course_id: uuid.UUID
) -> list[CourseModule]:
    course = await get_course(session, auth, course_id)
    rows = await session.scalars(
        select(CourseModule)
        .where(CourseModule.course_id == course.id)
        .order_by(CourseModule.position, CourseModule.id)
    )
    return list(rows.all())


async def _module(session: AsyncSession, course: Course, module_id: uuid.UUID) -> CourseModule:
    module = await session.scalar(
        select(CourseModule).where(
            CourseModule.id == module_id, CourseModule.course_id == course.id
        )
    )
    if module is None:
        raise ModuleNotFound()
    return module


async def create_module(
    session: AsyncSession,
    auth: AuthContext,
    course_id: uuid.UUID,
    data: ModuleCreate,
    *,
    meta: RequestMeta,
) -> CourseModule:
    course = await get_own_course(session, auth, course_id)
    position = data.position
    if position is None:
        position = await next_position(
            session, CourseModule.position, CourseModule.course_id == course.id
        )
    module = CourseModule(
        company_id=course.company_id,
        is_platform=course.is_platform,
        course_id=course.id,
        position=position,
        title=data.title,
    )
    session.add(module)
    await session.flush()
    await _audit(session, auth, "course.module_added", course, meta, {"module": str(module.id)})
    return module


async def update_module(
    session: AsyncSession,
    auth: AuthContext,
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    data: ModuleUpdate,
    *,
    meta: RequestMeta,
) -> CourseModule:
    course = await get_own_course(session, auth, course_id)
    module = await _module(session, course, module_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    for field, value in changes.items():
        setattr(module, field, value)
    await session.flush()
    await _audit(session, auth, "course.module_updated", course, meta, {"module": str(module.id)})
    return module


async def delete_module(
    session: AsyncSession,
    auth: AuthContext,
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    *,
    meta: RequestMeta,
) -> None:
    """Removes the module and its lessons from the draft; published versions keep them."""
    course = await get_own_course(session, auth, course_id)
    module = await _module(session, course, module_id)
    await session.delete(module)
    await session.flush()
    await _audit(session, auth, "course.module_deleted", course, meta, {"module": str(module_id)})


# --- lessons ---------------------------------------------------------------------------


async def list_lessons(
    session: AsyncSession, auth: AuthContext, course_id: uuid.UUID, module_id: uuid.UUID
) -> list[Lesson]:
    course = await get_course(session, auth, course_id)
    module = await _module(session, course, module_id)
    rows = await session.scalars(
        select(Lesson).where(Lesson.module_id == module.id).order_by(Lesson.position, Lesson.id)
    )
    return list(rows.all())


async def _lesson(session: AsyncSession, module: CourseModule, lesson_id: uuid.UUID) -> Lesson:
    lesson = await session.scalar(
        select(Lesson).where(Lesson.id == lesson_id, Lesson.module_id == module.id)
    )
    if lesson is None:
        raise LessonNotFound()
    return lesson


async def create_lesson(
    session: AsyncSession,
    auth: AuthContext,
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    data: LessonCreate,
    *,
    meta: RequestMeta,
) -> Lesson:
    course = await get_own_course(session, auth, course_id)
    module = await _module(session, course, module_id)
    position = data.position
    if position is None:
        position = await next_position(session, Lesson.position, Lesson.module_id == module.id)
    lesson = Lesson(
        company_id=course.company_id,
        is_platform=course.is_platform,
        course_id=course.id,
        module_id=module.id,
        position=position,
        kind=data.kind,
    )
    apply_fields(lesson, data, owner=course.company_id)
    session.add(lesson)
    await session.flush()
    await _audit(session, auth, "course.lesson_added", course, meta, {"lesson": str(lesson.id)})
    return lesson


async def update_lesson(
    session: AsyncSession,
    auth: AuthContext,
    ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
    data: LessonUpdate,
    *,
    meta: RequestMeta,
) -> Lesson:
    course_id, module_id, lesson_id = ids
    course = await get_own_course(session, auth, course_id)
    lesson = await _lesson(session, await _module(session, course, module_id), lesson_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "position" in changes:
        lesson.position = changes.pop("position")
    merged = {**lesson_fields(lesson), **changes}
    try:
        fields = LessonFields.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed(details=exc.errors(include_url=False, include_input=False)) from exc
    apply_fields(lesson, fields, owner=course.company_id)
    await session.flush()
    await _audit(
        session,
        auth,
        "course.lesson_updated",
        course,
        meta,
        {"lesson": str(lesson.id), "fields": sorted(changes)},
    )
    return lesson


async def delete_lesson(
    session: AsyncSession,
    auth: AuthContext,
    ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
    *,
    meta: RequestMeta,
) -> None:
    course_id, module_id, lesson_id = ids
    course = await get_own_course(session, auth, course_id)
    lesson = await _lesson(session, await _module(session, course, module_id), lesson_id)
    await session.delete(lesson)
    await session.flush()
    await _audit(session, auth, "course.lesson_deleted", course, meta, {"lesson": str(lesson_id)})


def lesson_fields(lesson: Lesson) -> dict[str, Any]:
    """A stored lesson in the shape authors write it (questions without their ids)."""
    questions = None
    if lesson.questions is not None:
        questions = [
            {
                "kind": q["kind"],
                "prompt": q["prompt"],
                "explanation": q.get("explanation", ""),
                "options": [{"text": o["text"], "correct": o["correct"]} for o in q["options"]],
            }
            for q in lesson.questions
        ]
    return {
        "kind": lesson.kind,
        "title": lesson.title,
        "estimated_minutes": lesson.estimated_minutes,
        "body": lesson.body_markdown,
        "statement": lesson.statement,
        "file_key": lesson.file_key,
        "media_type": lesson.media_type,
        "pass_mark": lesson.pass_mark,
        "max_attempts": lesson.max_attempts,
        "questions": questions,
    }


def apply_fields(lesson: Lesson, data: LessonFields, *, owner: uuid.UUID) -> None:
    """Write checked fields onto a lesson: Markdown rendered, file checked, question ids."""
    key = data.file_key
    if key is not None and (not key.startswith(f"{owner}/") or ".." in key.split("/")):
        raise ForeignFile(details={"field": "file_key"})
    lesson.title = data.title
    lesson.estimated_minutes = data.estimated_minutes
    lesson.body_markdown = data.body
    lesson.body_html = markdown.render(data.body) if data.body is not None else None
    lesson.statement = data.statement
    lesson.file_key = data.file_key
    lesson.media_type = data.media_type
    lesson.pass_mark = data.pass_mark
    lesson.max_attempts = data.max_attempts
    lesson.questions = [_with_ids(q) for q in data.questions] if data.questions else None


def _with_ids(question: QuestionIn) -> dict[str, Any]:
    return {
        "id": str(new_id()),
        "kind": question.kind.value,
        "prompt": question.prompt,
        "explanation": question.explanation,
        "options": [
            {"id": str(new_id()), "text": o.text, "correct": o.correct} for o in question.options
        ],
    }


async def _audit(
    session: AsyncSession,
    auth: AuthContext,
    action: str,
    course: Course,
    meta: RequestMeta,
    changes: dict[str, Any],
) -> None:
    await audit.record(
        session, action, auth=auth, target=("course", course.id), meta=meta, changes=changes
    )
