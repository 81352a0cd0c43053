"""The learner's side of training: their assignments, lesson content from the frozen
version they are enrolled in, completing lessons (policy acknowledgements with time and
address), and progress. Quizzes are in `services.quizzes`.

A learner sees only their own enrollments: anyone else's, or another company's, is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.config import settings
from core.exceptions import NotFound, PermissionDenied, ValidationFailed
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, scoped_select
from models.base import utcnow
from models.course import CourseVersion, LessonKind
from models.enrollment import Enrollment, EnrollmentState, LessonProgress, QuizAttempt
from schemas.learning import LessonComplete
from services import certificates
from services.storage import get_storage


class EnrollmentNotFound(NotFound):
    code = "enrollment_not_found"
    message = "No such enrollment."


class LessonNotInCourse(NotFound):
    code = "lesson_not_found"
    message = "No such lesson in this course."


class AcknowledgementRequired(ValidationFailed):
    code = "acknowledgement_required"
    message = "A policy lesson is completed by accepting its statement (acknowledge: true)."


class QuizCompletesByPassing(ValidationFailed):
    code = "quiz_not_completable"
    message = "A quiz is completed by passing an attempt, not by marking it done."


class LearnersOnly(PermissionDenied):
    code = "learners_only"
    message = "This is a signed-in learner's own view; API keys have none."


@dataclass(frozen=True, slots=True)
class Enrolled:
    """An enrollment of the caller with the version it is frozen to."""

    enrollment: Enrollment
    content: dict[str, Any]
    version: int


def _learner(auth: AuthContext) -> uuid.UUID:
    if auth.user_id is None:
        raise LearnersOnly()
    return auth.user_id


def _mine(auth: AuthContext) -> Any:
    return (
        scoped_select(Enrollment, auth)
        .where(Enrollment.user_id == _learner(auth))
        .options(joinedload(Enrollment.course))
    )


async def list_my_enrollments(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[Enrollment]:
    return await paginate(session, _mine(auth), page, order_by=(Enrollment.id,))


async def get_enrolled(
    session: AsyncSession, auth: AuthContext, enrollment_id: uuid.UUID, *, lock: bool = False
) -> Enrolled:
    stmt = _mine(auth).where(Enrollment.id == enrollment_id)
    if lock:
        stmt = stmt.with_for_update(of=Enrollment)
    enrollment = await session.scalar(stmt)
    if enrollment is None:
        raise EnrollmentNotFound()
    version = await session.get(CourseVersion, enrollment.course_version_id)
    if version is None:
        raise EnrollmentNotFound()
    return Enrolled(enrollment, version.content, version.version)


def lessons_of(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [lesson for module in content["modules"] for lesson in module["lessons"]]


def find_lesson(content: dict[str, Any], lesson_id: uuid.UUID) -> dict[str, Any]:
    for lesson in lessons_of(content):
        if lesson["id"] == str(lesson_id):
            return lesson
    raise LessonNotInCourse()


async def done_lessons(session: AsyncSession, enrollment: Enrollment) -> set[str]:
    rows = await session.scalars(
        select(LessonProgress.lesson_id).where(LessonProgress.enrollment_id == enrollment.id)
    )
    return {str(x) for x in rows.all()}


async def best_scores(session: AsyncSession, enrollment: Enrollment) -> dict[str, int]:
    rows = await session.execute(
        select(QuizAttempt.lesson_id, QuizAttempt.score).where(
            QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.score.is_not(None)
        )
    )
    best: dict[str, int] = {}
    for lesson_id, score in rows.all():
        best[str(lesson_id)] = max(best.get(str(lesson_id), 0), score or 0)
    return best


async def lesson_content(
    session: AsyncSession, auth: AuthContext, enrollment_id: uuid.UUID, lesson_id: uuid.UUID
) -> dict[str, Any]:
    """A lesson as the learner sees it: quiz questions come only with an attempt."""
    enrolled = await get_enrolled(session, auth, enrollment_id)
    lesson = find_lesson(enrolled.content, lesson_id)
    enrollment = enrolled.enrollment
    enrollment.last_lesson_id = lesson_id
    if enrollment.state is EnrollmentState.not_started:
        enrollment.state = EnrollmentState.in_progress
        enrollment.started_at = utcnow()
    media_url = None
    if lesson["file_key"]:
        media_url = await get_storage().download_url(
            lesson["file_key"], expires_in=settings.download_url_seconds
        )
    attempts = None
    if lesson["kind"] == LessonKind.quiz:
        attempts = len(
            (
                await session.scalars(
                    select(QuizAttempt.id).where(
                        QuizAttempt.enrollment_id == enrollment.id,
                        QuizAttempt.lesson_id == lesson_id,
                    )
                )
            ).all()
        )
    await session.flush()
    return {
        **{k: lesson[k] for k in ("id", "kind", "title", "estimated_minutes", "body_html")},
        **{k: lesson[k] for k in ("statement", "media_type", "pass_mark", "max_attempts")},
        "media_url": media_url,
        "question_count": len(lesson["questions"]) if lesson["questions"] else None,
        "attempts_used": attempts,
        "completed": str(lesson_id) in await done_lessons(session, enrollment),
    }


async def complete_lesson(
    session: AsyncSession,
    auth: AuthContext,
    ids: tuple[uuid.UUID, uuid.UUID],
    data: LessonComplete,
    *,
    ip: str | None,
) -> Enrollment:
    enrollment_id, lesson_id = ids
    enrolled = await get_enrolled(session, auth, enrollment_id, lock=True)
    lesson = find_lesson(enrolled.content, lesson_id)
    if lesson["kind"] == LessonKind.quiz:
        raise QuizCompletesByPassing()
    if lesson["kind"] == LessonKind.policy and not data.acknowledge:
        raise AcknowledgementRequired()
    progress = LessonProgress(
        company_id=enrolled.enrollment.company_id,
        enrollment_id=enrolled.enrollment.id,
        lesson_id=lesson_id,
        time_spent_seconds=data.time_spent_seconds,
    )
    if lesson["kind"] == LessonKind.policy:
        progress.acknowledged_at = progress.completed_at = utcnow()
        progress.acknowledged_ip = ip
        progress.acknowledged_statement = lesson["statement"]
    await record_progress(session, enrolled, progress)
    return enrolled.enrollment


async def record_progress(
    session: AsyncSession, enrolled: Enrolled, progress: LessonProgress
) -> None:
    """Add a lesson's completion (once: a repeat only adds time) and bring the enrollment's
    state, percent and certificate up to date. The enrollment row is locked by the caller."""
    enrollment = enrolled.enrollment
    existing = await session.scalar(
        select(LessonProgress).where(
            LessonProgress.enrollment_id == enrollment.id,
            LessonProgress.lesson_id == progress.lesson_id,
        )
    )
    if existing is None:
        session.add(progress)
    enrollment.time_spent_seconds += progress.time_spent_seconds
    enrollment.last_lesson_id = progress.lesson_id
    enrollment.started_at = enrollment.started_at or utcnow()
    await session.flush()
    done = await done_lessons(session, enrollment)
    all_ids = [lesson["id"] for lesson in lessons_of(enrolled.content)]
    finished = sum(1 for x in all_ids if x in done)
    enrollment.percent = int(100 * finished / len(all_ids)) if all_ids else 100
    if enrollment.state is EnrollmentState.completed:
        return
    if finished == len(all_ids):
        enrollment.state = EnrollmentState.completed
        enrollment.completed_at = utcnow()
        await session.flush()
        await certificates.issue(session, enrollment, enrolled.content["title"])
    else:
        enrollment.state = EnrollmentState.in_progress
    await session.flush()


async def outline(session: AsyncSession, enrolled: Enrolled) -> dict[str, Any]:
    enrollment = enrolled.enrollment
    done = await done_lessons(session, enrollment)
    scores = await best_scores(session, enrollment)
    modules = []
    resume = None
    for module in enrolled.content["modules"]:
        lessons = []
        for lesson in module["lessons"]:
            completed = lesson["id"] in done
            if not completed and resume is None:
                resume = lesson["id"]
            lessons.append(
                {
                    **{k: lesson[k] for k in ("id", "kind", "title", "estimated_minutes")},
                    "completed": completed,
                    "best_score": scores.get(lesson["id"]),
                }
            )
        modules.append({"id": module["id"], "title": module["title"], "lessons": lessons})
    return {
        "description": enrolled.content["description"],
        "version": enrolled.version,
        "modules": modules,
        "resume_lesson_id": resume,
    }
