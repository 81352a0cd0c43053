"""Remedial training after a failed simulation: a recipient who clicks or submits is
enrolled in the campaign's remedial course (once: enrollment is idempotent per person and
course, and only a recipient's first click or submit gets here) and emailed about it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from loguru import logger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.exceptions import AppError
from models.base import utcnow
from models.user import User
from services import enrollments
from services.email import send_after_commit

if TYPE_CHECKING:
    from services.phishing_events import Target


async def enroll_after_failure(session: AsyncSession, target: Target) -> bool:
    """Enroll the recipient in the remedial course; False if there was nothing to do or
    the course can no longer take enrollments (archived since the launch)."""
    if target.remediation_course_id is None:
        return False
    try:
        course, _ = await enrollments.enrollable_version(
            session, target.company_id, target.remediation_course_id
        )
        created = await enrollments.enroll(
            session,
            target.company_id,
            [target.user_id],
            course.id,
            due_at=utcnow() + timedelta(days=settings.remediation_due_days),
            source="phishing",
        )
    except AppError as exc:
        logger.warning("remedial enrollment skipped for campaign {}: {}", target.campaign_id, exc)
        return False
    if not created:
        return False
    email = await session.scalar(select(User.email).where(User.id == target.user_id))
    if email:
        send_after_commit(
            session,
            email,
            "remedial_training",
            {
                "first_name": target.first_name or "",
                "course_title": course.title,
                "due_days": settings.remediation_due_days,
                "training_url": f"{settings.public_url.rstrip('/')}/me/enrollments",
            },
        )
    return True
