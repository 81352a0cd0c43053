"""Enrolling people in courses, in bulk: the one way training campaigns, phishing
remediation and admins put a course in front of learners.

`enroll` is idempotent (one enrollment per learner and course; enrolling again does
nothing) and built for size. On PostgreSQL one `INSERT … SELECT FROM unnest(ids) JOIN users
… ON CONFLICT DO NOTHING` per 20,000 people checks the ids against the company and inserts
in the same statement: the join probes the users' primary key once per id. (The earlier
form — `SELECT id FROM users WHERE id IN (<1,000 parameters>)`, then a multi-row INSERT —
took 57 s for 50,000 people under row-level security: after five runs PostgreSQL switched
the prepared check to a generic plan that scanned the company's users and compared each
with the 1,000-element list, ~1.2 s per chunk.) SQLite keeps the chunked check and
multi-row insert. Each enrollment points at the course's current published version and
keeps it, whatever is published later.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import ValidationFailed
from models.base import new_id, utcnow
from models.course import Course, CourseStatus, CourseVersion
from models.enrollment import Enrollment, EnrollmentState
from models.user import User, UserStatus
from services.courses import CourseNotFound

# 13 columns a row: 1,000 rows stay well inside both engines' bound-parameter limits.
CHUNK = 1000
PG_CHUNK = 20_000
# Constant text; every value is a bound parameter.
_PG_ENROLL = text(
    "INSERT INTO enrollments (id, company_id, user_id, course_id, course_version_id, state, "
    "percent, time_spent_seconds, due_at, training_campaign_id, source, created_at, "
    "updated_at) "
    "SELECT t.id, u.company_id, u.id, CAST(:course_id AS uuid), CAST(:version_id AS uuid), "
    "'not_started', 0, 0, CAST(:due_at AS timestamptz), CAST(:campaign_id AS uuid), "
    "CAST(:source AS varchar), CAST(:now AS timestamptz), CAST(:now AS timestamptz) "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:user_ids AS uuid[])) AS t(id, user_id) "
    "JOIN users u ON u.id = t.user_id "
    "WHERE u.company_id = CAST(:company_id AS uuid) AND u.status <> 'disabled' "
    "AND u.deleted_at IS NULL "
    "ON CONFLICT (user_id, course_id) DO NOTHING"
)


class CourseNotEnrollable(ValidationFailed):
    code = "course_not_published"
    message = "Only published courses can be assigned (this one is a draft or archived)."


async def enrollable_version(
    session: AsyncSession, company_id: uuid.UUID, course_id: uuid.UUID
) -> tuple[Course, CourseVersion]:
    """The course (own or platform) and the version new enrollments get."""
    course = await session.scalar(
        select(Course).where(
            Course.id == course_id,
            or_(Course.company_id == company_id, Course.is_platform.is_(True)),
        )
    )
    if course is None or (course.is_platform and course.status is CourseStatus.draft):
        raise CourseNotFound()
    if course.status is not CourseStatus.published:
        raise CourseNotEnrollable(details={"course_id": str(course_id), "status": course.status})
    version = await session.scalar(
        select(CourseVersion).where(
            and_(CourseVersion.course_id == course.id, CourseVersion.version == course.version)
        )
    )
    if version is None:  # published implies a version; a broken row is not enrollable
        raise CourseNotEnrollable()
    return course, version


async def enroll(
    session: AsyncSession,
    company_id: uuid.UUID,
    user_ids: Iterable[uuid.UUID],
    course_id: uuid.UUID,
    *,
    due_at: datetime | None,
    training_campaign_id: uuid.UUID | None = None,
    source: str = "manual",
) -> int:
    """Enroll the company's active or invited users among `user_ids`; returns how many
    enrollments were created (people already enrolled in the course are left as they are).
    Ids of other companies' users, deleted or disabled users are skipped."""
    course, version = await enrollable_version(session, company_id, course_id)
    now = utcnow()
    created = 0
    ids = list(dict.fromkeys(user_ids))
    if session.get_bind().dialect.name == "postgresql":
        for start in range(0, len(ids), PG_CHUNK):
            chunk = ids[start : start + PG_CHUNK]
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                _PG_ENROLL,
                {
                    "ids": [new_id() for _ in chunk],
                    "user_ids": chunk,
                    "company_id": company_id,
                    "course_id": course.id,
                    "version_id": version.id,
                    "due_at": due_at,
                    "campaign_id": training_campaign_id,
                    "source": source,
                    "now": now,
                },
            )
            created += result.rowcount
        return created
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        valid = (
            await session.scalars(
                select(User.id).where(
                    User.company_id == company_id,
                    User.id.in_(chunk),
                    User.status != UserStatus.disabled,
                )
            )
        ).all()
        if not valid:
            continue
        rows = [
            {
                "id": new_id(),
                "company_id": company_id,
                "user_id": user_id,
                "course_id": course.id,
                "course_version_id": version.id,
                "state": EnrollmentState.not_started,
                "percent": 0,
                "time_spent_seconds": 0,
                "due_at": due_at,
                "training_campaign_id": training_campaign_id,
                "source": source,
                "created_at": now,
                "updated_at": now,
            }
            for user_id in valid
        ]
        # One cached statement, batched by SQLAlchemy's "insertmanyvalues" into multi-row
        # INSERTs; RETURNING counts only the rows that were new.
        connection = await session.connection()
        result = await connection.execute(_insert_ignoring_duplicates(session), rows)
        created += len(result.all())
    return created


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(Enrollment.__table__)
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
        .returning(Enrollment.__table__.c.id)
    )
