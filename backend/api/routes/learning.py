"""The learner's own training (`/me/...`): assignments, lessons, quizzes, certificates.

Any signed-in user may call these for themselves (they are in test_rbac's SELF set); what
they see is only their own enrollments and certificates.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from api.dependencies.auth import Auth
from api.dependencies.common import ClientIP, PageDep, SessionDep, UnitOfWorkRoute
from api.prefix import API_PREFIX
from models.base import utcnow
from models.enrollment import Enrollment
from schemas.base import ErrorResponse, Page
from schemas.learning import (
    AttemptResult,
    AttemptStarted,
    AttemptSubmit,
    CertificateRead,
    EnrollmentDetail,
    EnrollmentRead,
    LessonComplete,
    LessonContent,
)
from services import certificates, learning, quizzes

router = APIRouter(route_class=UnitOfWorkRoute, prefix=f"{API_PREFIX}/me", tags=["learning"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


def _read(enrollment: Enrollment) -> EnrollmentRead:
    return EnrollmentRead(
        id=enrollment.id,
        course_id=enrollment.course_id,
        course_title=enrollment.course.title,
        state=enrollment.effective_state(utcnow()),
        percent=enrollment.percent,
        time_spent_seconds=enrollment.time_spent_seconds,
        due_at=enrollment.due_at,
        started_at=enrollment.started_at,
        completed_at=enrollment.completed_at,
        training_campaign_id=enrollment.training_campaign_id,
    )


@router.get("/enrollments")
async def list_my_enrollments(
    auth: Auth, session: SessionDep, page: PageDep
) -> Page[EnrollmentRead]:
    """My assignments, with due dates and progress."""
    result = await learning.list_my_enrollments(session, auth, page)
    return Page[EnrollmentRead](
        items=[_read(e) for e in result.items], next_cursor=result.next_cursor
    )


@router.get("/enrollments/{enrollment_id}", responses=_ERRORS)
async def get_my_enrollment(
    enrollment_id: uuid.UUID, auth: Auth, session: SessionDep
) -> EnrollmentDetail:
    """One assignment: the course as it was when I was enrolled, my progress, and where
    to resume."""
    enrolled = await learning.get_enrolled(session, auth, enrollment_id)
    outline = await learning.outline(session, enrolled)
    return EnrollmentDetail(**_read(enrolled.enrollment).model_dump(), **outline)


@router.get("/enrollments/{enrollment_id}/lessons/{lesson_id}", responses=_ERRORS)
async def get_lesson(
    enrollment_id: uuid.UUID, lesson_id: uuid.UUID, auth: Auth, session: SessionDep
) -> LessonContent:
    """A lesson's content (a quiz's questions come with an attempt, never its answers);
    opening it makes it the resume point."""
    content = await learning.lesson_content(session, auth, enrollment_id, lesson_id)
    return LessonContent(**content)


@router.post("/enrollments/{enrollment_id}/lessons/{lesson_id}/complete", responses=_ERRORS)
async def complete_lesson(
    enrollment_id: uuid.UUID,
    lesson_id: uuid.UUID,
    body: LessonComplete,
    auth: Auth,
    session: SessionDep,
    ip: ClientIP,
) -> EnrollmentRead:
    """Mark a text, media or policy lesson done (a policy needs `acknowledge: true`; the
    time and address of the acknowledgement are kept)."""
    enrollment = await learning.complete_lesson(
        session, auth, (enrollment_id, lesson_id), body, ip=ip
    )
    return _read(enrollment)


@router.post(
    "/enrollments/{enrollment_id}/quizzes/{lesson_id}/attempts",
    status_code=201,
    responses=_ERRORS,
)
async def start_attempt(
    enrollment_id: uuid.UUID, lesson_id: uuid.UUID, auth: Auth, session: SessionDep
) -> AttemptStarted:
    """Start an attempt (or get back the one still open): questions and options in an
    order of its own, without the answers."""
    attempt, lesson = await quizzes.start_attempt(session, auth, enrollment_id, lesson_id)
    return AttemptStarted(
        id=attempt.id,
        number=attempt.number,
        pass_mark=lesson["pass_mark"],
        questions=quizzes.shown_questions(attempt, lesson),
    )


@router.post(
    "/enrollments/{enrollment_id}/quizzes/{lesson_id}/attempts/{attempt_id}/submit",
    responses=_ERRORS,
)
async def submit_attempt(
    enrollment_id: uuid.UUID,
    lesson_id: uuid.UUID,
    attempt_id: uuid.UUID,
    body: AttemptSubmit,
    auth: Auth,
    session: SessionDep,
) -> AttemptResult:
    """Submit the answers: scored on the server; the result shows the right answers."""
    attempt, lesson, enrolled, results = await quizzes.submit_attempt(
        session, auth, (enrollment_id, lesson_id, attempt_id), body
    )
    used = await quizzes.attempts_used(session, enrolled, lesson_id)
    limit = lesson["max_attempts"]
    return AttemptResult(
        id=attempt.id,
        number=attempt.number,
        score=attempt.score or 0,
        passed=bool(attempt.passed),
        pass_mark=lesson["pass_mark"],
        attempts_left=max(limit - used, 0) if limit else None,
        results=results,
        enrollment=_read(enrolled.enrollment),
    )


def _certificate(certificate: Any) -> CertificateRead:
    return CertificateRead(
        id=certificate.id,
        code=certificate.code,
        learner_name=certificate.learner_name,
        course_title=certificate.course_title,
        company_name=certificate.company_name,
        issued_at=certificate.issued_at,
        verify_url=certificates.verify_url(certificate.code),
    )


@router.get("/certificates")
async def list_my_certificates(
    auth: Auth, session: SessionDep, page: PageDep
) -> Page[CertificateRead]:
    """My certificates."""
    result = await certificates.list_mine(session, auth, page)
    return Page[CertificateRead](
        items=[_certificate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.get(
    "/certificates/{certificate_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 404: {"model": ErrorResponse}},
)
async def get_my_certificate_pdf(
    certificate_id: uuid.UUID, auth: Auth, session: SessionDep
) -> Response:
    """My certificate as a PDF, with its verification link and QR code."""
    certificate = await certificates.get_mine(session, auth, certificate_id)
    return Response(
        certificates.render_pdf(certificate),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{certificate.id}.pdf"'},
    )
