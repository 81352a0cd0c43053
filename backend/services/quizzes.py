"""Quiz attempts: questions and options shuffled per attempt and kept on the attempt,
scored on the server; the correct answers leave the server only in the result of a
submitted attempt.

A question scores when the chosen options are exactly its correct ones. Answers that name
a question or option not in the attempt are refused (422) and change nothing; another
learner's attempt, or one of another quiz, is a 404.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import Conflict, NotFound, ValidationFailed
from db.scoping import AuthContext
from models.base import utcnow
from models.course import LessonKind
from models.enrollment import LessonProgress, QuizAttempt
from schemas.learning import AttemptSubmit
from services.learning import Enrolled, find_lesson, get_enrolled, record_progress

_shuffle = random.SystemRandom()


class NotAQuiz(ValidationFailed):
    code = "not_a_quiz"
    message = "This lesson is not a quiz."


class NoAttemptsLeft(Conflict):
    code = "no_attempts_left"
    message = "Every attempt allowed for this quiz has been used."


class AttemptNotFound(NotFound):
    code = "attempt_not_found"
    message = "No such attempt of this quiz."


class AttemptAlreadySubmitted(Conflict):
    code = "attempt_submitted"
    message = "This attempt has been submitted already; start a new one."


class InvalidAnswers(ValidationFailed):
    code = "invalid_answers"
    message = "The answers name questions or options that are not part of this attempt."


async def _quiz(
    session: AsyncSession, auth: AuthContext, enrollment_id: uuid.UUID, lesson_id: uuid.UUID
) -> tuple[Enrolled, dict[str, Any]]:
    enrolled = await get_enrolled(session, auth, enrollment_id, lock=True)
    lesson = find_lesson(enrolled.content, lesson_id)
    if lesson["kind"] != LessonKind.quiz:
        raise NotAQuiz()
    return enrolled, lesson


async def start_attempt(
    session: AsyncSession, auth: AuthContext, enrollment_id: uuid.UUID, lesson_id: uuid.UUID
) -> tuple[QuizAttempt, dict[str, Any]]:
    """A new attempt, or the one still open (a reload must not burn an attempt)."""
    enrolled, lesson = await _quiz(session, auth, enrollment_id, lesson_id)
    attempts = (
        await session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.enrollment_id == enrolled.enrollment.id,
                QuizAttempt.lesson_id == lesson_id,
            )
            .order_by(QuizAttempt.number)
        )
    ).all()
    if attempts and attempts[-1].submitted_at is None:
        return attempts[-1], lesson
    if lesson["max_attempts"] and len(attempts) >= lesson["max_attempts"]:
        raise NoAttemptsLeft()
    questions = list(lesson["questions"])
    _shuffle.shuffle(questions)
    presented = []
    for question in questions:
        options = [o["id"] for o in question["options"]]
        _shuffle.shuffle(options)
        presented.append({"id": question["id"], "options": options})
    attempt = QuizAttempt(
        company_id=enrolled.enrollment.company_id,
        enrollment_id=enrolled.enrollment.id,
        lesson_id=lesson_id,
        number=len(attempts) + 1,
        presented=presented,
    )
    session.add(attempt)
    enrolled.enrollment.last_lesson_id = lesson_id
    enrolled.enrollment.started_at = enrolled.enrollment.started_at or utcnow()
    await session.flush()
    return attempt, lesson


def shown_questions(attempt: QuizAttempt, lesson: dict[str, Any]) -> list[dict[str, Any]]:
    """The attempt's questions in its order, without a hint of which options are right."""
    by_id = {q["id"]: q for q in lesson["questions"]}
    shown = []
    for item in attempt.presented:
        question = by_id[item["id"]]
        texts = {o["id"]: o["text"] for o in question["options"]}
        shown.append(
            {
                "id": question["id"],
                "kind": question["kind"],
                "prompt": question["prompt"],
                "options": [{"id": o, "text": texts[o]} for o in item["options"]],
            }
        )
    return shown


async def submit_attempt(
    session: AsyncSession,
    auth: AuthContext,
    ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
    data: AttemptSubmit,
) -> tuple[QuizAttempt, dict[str, Any], Enrolled, list[dict[str, Any]]]:
    enrollment_id, lesson_id, attempt_id = ids
    enrolled, lesson = await _quiz(session, auth, enrollment_id, lesson_id)
    attempt = await session.scalar(
        select(QuizAttempt).where(
            QuizAttempt.id == attempt_id,
            QuizAttempt.enrollment_id == enrolled.enrollment.id,
            QuizAttempt.lesson_id == lesson_id,
        )
    )
    if attempt is None:
        raise AttemptNotFound()
    if attempt.submitted_at is not None:
        raise AttemptAlreadySubmitted()
    results = _score(lesson, data.answers)
    right = sum(r["correct"] for r in results)
    attempt.answers = data.answers
    attempt.score = round(100 * right / len(results))
    attempt.passed = attempt.score >= lesson["pass_mark"]
    attempt.submitted_at = utcnow()
    await session.flush()
    if attempt.passed:
        progress = LessonProgress(
            company_id=enrolled.enrollment.company_id,
            enrollment_id=enrolled.enrollment.id,
            lesson_id=lesson_id,
            time_spent_seconds=int((attempt.submitted_at - attempt.started_at).total_seconds()),
        )
        await record_progress(session, enrolled, progress)
    return attempt, lesson, enrolled, results


def _score(lesson: dict[str, Any], answers: dict[str, list[str]]) -> list[dict[str, Any]]:
    questions = {q["id"]: q for q in lesson["questions"]}
    for question_id, chosen in answers.items():
        question = questions.get(question_id)
        options = {o["id"] for o in question["options"]} if question else set()
        if question is None or not set(chosen) <= options:
            raise InvalidAnswers(details={"question": question_id[:64]})
        if question["kind"] != "multiple" and len(set(chosen)) > 1:
            raise InvalidAnswers(
                "Choose one option for this question.", details={"question": question_id}
            )
    results = []
    for question in lesson["questions"]:
        chosen = sorted(set(answers.get(question["id"], [])))
        correct = sorted(o["id"] for o in question["options"] if o["correct"])
        results.append(
            {
                "id": question["id"],
                "correct": chosen == correct,
                "chosen": chosen,
                "correct_options": correct,
                "explanation": question.get("explanation", ""),
            }
        )
    return results


async def attempts_used(session: AsyncSession, enrolled: Enrolled, lesson_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(func.count()).where(
            QuizAttempt.enrollment_id == enrolled.enrollment.id, QuizAttempt.lesson_id == lesson_id
        )
    )
    return int(found or 0)
