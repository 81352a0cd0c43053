"""The learner's side: assignments, lesson content, quiz attempts, certificates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from models.course import LessonKind
from models.enrollment import EnrollmentState
from schemas.base import CreateSchema, ReadSchema
from schemas.course import QuestionKind


class EnrollmentRead(BaseModel):
    id: uuid.UUID
    course_id: uuid.UUID
    course_title: str
    state: EnrollmentState = Field(description="`overdue` once the due date has passed.")
    percent: int
    time_spent_seconds: int
    due_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    training_campaign_id: uuid.UUID | None


class LessonOutline(BaseModel):
    id: uuid.UUID
    kind: LessonKind
    title: str
    estimated_minutes: int
    completed: bool
    best_score: int | None = None


class ModuleOutline(BaseModel):
    id: uuid.UUID
    title: str
    lessons: list[LessonOutline]


class EnrollmentDetail(EnrollmentRead):
    description: str
    version: int
    modules: list[ModuleOutline]
    resume_lesson_id: uuid.UUID | None = Field(
        description="Where to continue: the first lesson not done yet."
    )


class LessonContent(BaseModel):
    id: uuid.UUID
    kind: LessonKind
    title: str
    estimated_minutes: int
    body_html: str | None
    statement: str | None = Field(description="Policy: what the learner accepts.")
    media_url: str | None = Field(description="Media: a short-lived signed link.")
    media_type: str | None
    pass_mark: int | None
    max_attempts: int | None = Field(description="0: unlimited.")
    question_count: int | None
    attempts_used: int | None
    completed: bool


class LessonComplete(CreateSchema):
    time_spent_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    acknowledge: bool = Field(
        default=False, description="Policy lessons: true to accept the statement."
    )


class OptionShown(BaseModel):
    id: str
    text: str


class QuestionShown(BaseModel):
    id: str
    kind: QuestionKind
    prompt: str
    options: list[OptionShown]


class AttemptStarted(BaseModel):
    id: uuid.UUID
    number: int
    pass_mark: int
    questions: list[QuestionShown] = Field(description="Shuffled for this attempt; no answers.")


class AttemptSubmit(CreateSchema):
    answers: dict[
        Annotated[str, Field(max_length=64)], Annotated[list[str], Field(max_length=10)]
    ] = Field(description="Question id → chosen option ids.", max_length=100)


class QuestionResult(BaseModel):
    id: str
    correct: bool
    chosen: list[str]
    correct_options: list[str]
    explanation: str


class AttemptResult(BaseModel):
    id: uuid.UUID
    number: int
    score: int
    passed: bool
    pass_mark: int
    attempts_left: int | None = Field(description="None: unlimited.")
    results: list[QuestionResult]
    enrollment: EnrollmentRead


class CertificateRead(ReadSchema):
    id: uuid.UUID
    code: str
    learner_name: str
    course_title: str
    company_name: str
    issued_at: datetime
    verify_url: str


class CertificateVerified(BaseModel):
    """Exactly what the certificate states, nothing more."""

    valid: bool = True
    learner_name: str
    course_title: str
    company_name: str
    issued_at: datetime
