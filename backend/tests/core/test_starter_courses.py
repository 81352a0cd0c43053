"""The starter courses in core/data/courses/ keep to the course-file contract.

The loader lives elsewhere; this test reads the YAML on its own (yaml, pathlib, pytest only) so
a broken course file is caught by the people who write content, before any loader sees it.
Each check returns a list of problems with their place in the file, so one run names them all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

COURSES_DIR = Path(__file__).resolve().parents[2] / "core" / "data" / "courses"
COURSE_FILES = sorted(COURSES_DIR.glob("*.yaml"))
REQUIRED_SLUGS = {
    "phishing-basics",
    "passwords-and-mfa",
    "social-engineering",
    "safe-browsing-and-downloads",
    "reporting-incidents",
}
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Bodies are Markdown rendered and sanitized by the platform; starter content needs no HTML.
RAW_HTML = re.compile(r"</?[A-Za-z][^>]*>")

COURSE_KEYS = {"slug", "title", "description", "language", "tags", "estimated_minutes", "modules"}
LESSON_KEYS = {
    "text": ({"kind", "title", "body"}, {"estimated_minutes"}),
    "policy": ({"kind", "title", "body", "statement"}, {"estimated_minutes"}),
    "quiz": ({"kind", "title", "pass_mark", "questions"}, {"estimated_minutes", "max_attempts"}),
    "media": ({"kind", "title", "file_key", "media_type"}, {"estimated_minutes", "body"}),
}
QUESTION_KEYS = {"kind", "prompt", "explanation", "options"}
MIN_QUESTIONS = 5


def _keys(node: Any, where: str, required: set[str], optional: set[str]) -> list[str]:
    if not isinstance(node, dict):
        return [f"{where}: expected a mapping, got {type(node).__name__}"]
    problems = [f"{where}: missing {key!r}" for key in sorted(required - node.keys())]
    unknown = node.keys() - required - optional
    problems += [f"{where}: unknown key {key!r}" for key in sorted(unknown)]
    return problems


def _text(node: dict[str, Any], key: str, where: str) -> list[str]:
    value = node.get(key)
    if not isinstance(value, str) or not value.strip():
        return [f"{where}.{key}: expected non-empty text, got {value!r}"]
    if RAW_HTML.search(value):
        return [f"{where}.{key}: contains raw HTML"]
    return []


def _whole_number(node: dict[str, Any], key: str, where: str, low: int, high: int) -> list[str]:
    value = node.get(key)
    # bool is an int in Python; `pass_mark: yes` must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [f"{where}.{key}: expected a whole number {low} to {high}, got {value!r}"]
    return []


def check_question(question: Any, where: str) -> list[str]:
    problems = _keys(question, where, QUESTION_KEYS, set())
    if problems and not isinstance(question, dict):
        return problems
    problems += _text(question, "prompt", where) + _text(question, "explanation", where)
    kind = question.get("kind")
    if kind not in {"single", "multiple", "true_false"}:
        return [*problems, f"{where}.kind: unknown question kind {kind!r}"]
    options = question.get("options")
    if not isinstance(options, list) or len(options) < 2:
        return [*problems, f"{where}.options: expected at least two options"]
    for number, option in enumerate(options):
        place = f"{where}.options[{number}]"
        problems += _keys(option, place, {"text", "correct"}, set())
        if isinstance(option, dict):
            problems += _text(option, "text", place)
            if not isinstance(option.get("correct"), bool):
                problems.append(f"{place}.correct: expected true or false")
    texts = [option.get("text") for option in options if isinstance(option, dict)]
    if len(set(map(str, texts))) != len(texts):
        problems.append(f"{where}.options: two options have the same text")
    correct = sum(
        1 for option in options if isinstance(option, dict) and option.get("correct") is True
    )
    if kind in {"single", "true_false"} and correct != 1:
        problems.append(f"{where}: a {kind} question needs one correct option, has {correct}")
    if kind == "multiple" and correct < 1:
        problems.append(f"{where}: a multiple question needs at least one correct option")
    if kind == "true_false" and texts != ["True", "False"]:
        problems.append(f"{where}.options: a true_false question has the options 'True', 'False'")
    return problems


def check_lesson(lesson: Any, where: str) -> list[str]:
    kind = lesson.get("kind") if isinstance(lesson, dict) else None
    if kind not in LESSON_KEYS:
        return [f"{where}.kind: unknown lesson kind {kind!r}"]
    required, optional = LESSON_KEYS[kind]
    problems = _keys(lesson, where, required, optional) + _text(lesson, "title", where)
    if "estimated_minutes" in lesson:
        problems += _whole_number(lesson, "estimated_minutes", where, 1, 240)
    if kind in {"text", "policy"}:
        problems += _text(lesson, "body", where)
    if kind == "policy":
        problems += _text(lesson, "statement", where)
    if kind == "quiz":
        problems += _whole_number(lesson, "pass_mark", where, 1, 100)
        if lesson.get("max_attempts") is not None:
            problems += _whole_number(lesson, "max_attempts", where, 0, 1000)
        questions = lesson.get("questions")
        if not isinstance(questions, list) or len(questions) < MIN_QUESTIONS:
            return [*problems, f"{where}.questions: a quiz needs at least {MIN_QUESTIONS}"]
        for number, question in enumerate(questions):
            problems += check_question(question, f"{where}.questions[{number}]")
    return problems


def check_course(course: Any, slug_from_file: str) -> list[str]:
    problems = _keys(course, "course", COURSE_KEYS, set())
    if not isinstance(course, dict):
        return problems
    for key in ("title", "description", "language"):
        problems += _text(course, key, "course")
    if course.get("slug") != slug_from_file or not SLUG.fullmatch(slug_from_file):
        problems.append(f"course.slug: {course.get('slug')!r} does not match the file name")
    tags = course.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t for t in tags):
        problems.append("course.tags: expected a non-empty list of words")
    problems += _whole_number(course, "estimated_minutes", "course", 1, 600)
    modules = course.get("modules")
    if not isinstance(modules, list) or not modules:
        return [*problems, "course.modules: expected at least one module"]
    for m, module in enumerate(modules):
        where = f"modules[{m}]"
        problems += _keys(module, where, {"title", "lessons"}, set())
        if not isinstance(module, dict):
            continue
        problems += _text(module, "title", where)
        lessons = module.get("lessons")
        if not isinstance(lessons, list) or not lessons:
            problems.append(f"{where}.lessons: expected at least one lesson")
            continue
        for n, lesson in enumerate(lessons):
            problems += check_lesson(lesson, f"{where}.lessons[{n}]")
    return problems


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def lessons_of(course: dict[str, Any]) -> list[dict[str, Any]]:
    return [lesson for module in course["modules"] for lesson in module["lessons"]]


@pytest.fixture(scope="module")
def courses() -> dict[str, dict[str, Any]]:
    return {path.stem: load(path) for path in COURSE_FILES}


class TestStarterCourseFiles:
    @pytest.mark.parametrize("path", COURSE_FILES, ids=lambda path: path.stem)
    def test_file_keeps_the_contract(self, path: Path):
        assert check_course(load(path), path.stem) == []

    def test_the_five_required_courses_are_shipped(self, courses):
        assert courses.keys() >= REQUIRED_SLUGS

    def test_slugs_are_unique(self, courses):
        slugs = [course["slug"] for course in courses.values()]
        assert len(slugs) == len(set(slugs))

    def test_each_course_teaches_then_ends_with_a_quiz(self, courses):
        for slug, course in courses.items():
            lessons = lessons_of(course)
            assert any(lesson["kind"] == "text" for lesson in lessons), slug
            assert lessons[-1]["kind"] == "quiz", slug

    def test_course_minutes_are_the_sum_of_its_lessons(self, courses):
        # The catalog shows the course figure; keep it honest when a lesson is added or cut.
        for slug, course in courses.items():
            minutes = sum(lesson["estimated_minutes"] for lesson in lessons_of(course))
            assert course["estimated_minutes"] == minutes, slug

    def test_the_set_has_a_policy_acknowledgement(self, courses):
        kinds = {lesson["kind"] for course in courses.values() for lesson in lessons_of(course)}
        assert "policy" in kinds

    def test_each_quiz_mixes_question_kinds(self, courses):
        for slug, course in courses.items():
            for quiz in (lesson for lesson in lessons_of(course) if lesson["kind"] == "quiz"):
                kinds = {question["kind"] for question in quiz["questions"]}
                assert kinds == {"single", "multiple", "true_false"}, slug


def _course(**changes: Any) -> dict[str, Any]:
    question = {
        "kind": "single",
        "prompt": "Which?",
        "explanation": "Because.",
        "options": [{"text": "A", "correct": True}, {"text": "B", "correct": False}],
    }
    quiz = {"kind": "quiz", "title": "Quiz", "pass_mark": 80, "questions": [question] * 5}
    course = {
        "slug": "sample",
        "title": "Sample",
        "description": "A sample course.",
        "language": "en",
        "tags": ["sample"],
        "estimated_minutes": 5,
        "modules": [{"title": "Only", "lessons": [quiz]}],
    }
    return {**course, **changes}


def _with_question(**changes: Any) -> dict[str, Any]:
    course = _course()
    quiz = course["modules"][0]["lessons"][0]
    quiz["questions"] = [*quiz["questions"][:4], {**quiz["questions"][0], **changes}]
    return course


class TestCheckCourse:
    """The checker itself: each rule of the contract is one that can fail."""

    def test_a_valid_course_has_no_problems(self):
        assert check_course(_course(), "sample") == []

    def test_slug_must_match_the_file_name(self):
        assert check_course(_course(slug="other"), "sample") != []

    def test_unknown_course_key_is_reported(self):
        assert check_course(_course(sumary="typo"), "sample") != []

    def test_quiz_with_four_questions_is_reported(self):
        course = _course()
        course["modules"][0]["lessons"][0]["questions"] = course["modules"][0]["lessons"][0][
            "questions"
        ][:4]
        assert any("at least 5" in problem for problem in check_course(course, "sample"))

    @pytest.mark.parametrize("pass_mark", [0, 101, "80", True])
    def test_pass_mark_outside_1_to_100_is_reported(self, pass_mark):
        course = _course()
        course["modules"][0]["lessons"][0]["pass_mark"] = pass_mark
        assert check_course(course, "sample") != []

    def test_single_with_two_correct_options_is_reported(self):
        options = [{"text": "A", "correct": True}, {"text": "B", "correct": True}]
        assert check_course(_with_question(options=options), "sample") != []

    def test_multiple_with_no_correct_option_is_reported(self):
        options = [{"text": "A", "correct": False}, {"text": "B", "correct": False}]
        assert check_course(_with_question(kind="multiple", options=options), "sample") != []

    def test_true_false_with_unquoted_yaml_booleans_is_reported(self):
        # `text: True` unquoted loads as a bool; the contract wants the strings "True"/"False".
        options = [{"text": True, "correct": True}, {"text": False, "correct": False}]
        assert check_course(_with_question(kind="true_false", options=options), "sample") != []

    def test_question_without_explanation_is_reported(self):
        course = _with_question()
        del course["modules"][0]["lessons"][0]["questions"][4]["explanation"]
        assert check_course(course, "sample") != []

    def test_raw_html_in_a_body_is_reported(self):
        lesson = {"kind": "text", "title": "T", "body": "Hi <script>alert(1)</script>"}
        course = _course()
        course["modules"][0]["lessons"].insert(0, lesson)
        assert any("raw HTML" in problem for problem in check_course(course, "sample"))
