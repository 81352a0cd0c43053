"""Course authoring: courses, their modules and lessons (quiz questions included)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.course import CourseStatus, LessonKind
from schemas.base import CreateSchema, ReadSchema, UpdateSchema

Title = Annotated[str, Field(min_length=1, max_length=200)]
Markdown = Annotated[str, Field(min_length=1, max_length=200_000)]
Minutes = Annotated[int, Field(ge=0, le=10_000)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


class CourseCreate(CreateSchema):
    title: Title
    description: Annotated[str, Field(max_length=5000)] = ""
    language: Language = "en"
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    estimated_minutes: Minutes = 0


class CourseUpdate(UpdateSchema):
    title: Title | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    language: Language | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    estimated_minutes: Minutes | None = None


class CourseRead(ReadSchema):
    id: uuid.UUID
    slug: str | None
    title: str
    description: str
    language: str
    tags: list[str]
    estimated_minutes: int
    status: CourseStatus
    version: int = Field(description="Newest published version; 0 if never published.")
    is_platform: bool = Field(description="A platform course: read-only, visible to all.")
    created_at: datetime
    updated_at: datetime


class ModuleCreate(CreateSchema):
    title: Title
    position: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        default=None, description="Order in the course; default: after the last one."
    )


class ModuleUpdate(UpdateSchema):
    title: Title | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None


class ModuleRead(ReadSchema):
    id: uuid.UUID
    course_id: uuid.UUID
    position: int
    title: str


class QuestionKind(StrEnum):
    single = "single"
    multiple = "multiple"
    true_false = "true_false"


class OptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Annotated[str, Field(min_length=1, max_length=500)]
    correct: bool = False


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: QuestionKind
    prompt: Annotated[str, Field(min_length=1, max_length=2000)]
    explanation: Annotated[str, Field(max_length=2000)] = ""
    options: Annotated[list[OptionIn], Field(min_length=2, max_length=10)]

    @model_validator(mode="after")
    def _answers_make_sense(self) -> QuestionIn:
        correct = sum(o.correct for o in self.options)
        if self.kind is QuestionKind.multiple:
            if correct < 1:
                raise ValueError("a multiple-choice question needs at least one correct option")
            return self
        if correct != 1:
            raise ValueError(f"a {self.kind.value} question needs exactly one correct option")
        if self.kind is QuestionKind.true_false and sorted(o.text for o in self.options) != [
            "False",
            "True",
        ]:
            raise ValueError('a true_false question has exactly the options "True" and "False"')
        return self


class OptionRead(BaseModel):
    id: str
    text: str
    correct: bool


class QuestionRead(BaseModel):
    """As stored, with ids (assigned by the server) and the correct answers: for authors."""

    id: str
    kind: QuestionKind
    prompt: str
    explanation: str
    options: list[OptionRead]


class LessonFields(BaseModel):
    """What a lesson of each kind needs; checked as a whole on create and on update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: LessonKind
    title: Title
    estimated_minutes: Minutes = 0
    body: Markdown | None = Field(default=None, description="Markdown (text, policy, media).")
    statement: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    file_key: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    media_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    pass_mark: Annotated[int, Field(ge=1, le=100)] | None = None
    max_attempts: Annotated[int, Field(ge=0, le=100)] | None = None
    questions: Annotated[list[QuestionIn], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> LessonFields:
        need: dict[LessonKind, tuple[str, ...]] = {
            LessonKind.text: ("body",),
            LessonKind.policy: ("body", "statement"),
            LessonKind.media: ("file_key",),
            LessonKind.quiz: ("questions", "pass_mark"),
        }
        missing = [f for f in need[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind.value} lesson needs {', '.join(missing)}")
        return self


class LessonCreate(LessonFields, CreateSchema):
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None


class LessonUpdate(UpdateSchema):
    title: Title | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None
    estimated_minutes: Minutes | None = None
    body: Markdown | None = None
    statement: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    file_key: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    media_type: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    pass_mark: Annotated[int, Field(ge=1, le=100)] | None = None
    max_attempts: Annotated[int, Field(ge=0, le=100)] | None = None
    questions: Annotated[list[QuestionIn], Field(min_length=1, max_length=100)] | None = None


class LessonRead(ReadSchema):
    id: uuid.UUID
    module_id: uuid.UUID
    position: int
    kind: LessonKind
    title: str
    estimated_minutes: int
    body_markdown: str | None
    body_html: str | None = Field(description="Rendered from the Markdown, sanitized.")
    statement: str | None
    file_key: str | None
    media_type: str | None
    pass_mark: int | None
    max_attempts: int | None
    questions: list[QuestionRead] | None = Field(description="With the correct answers.")
