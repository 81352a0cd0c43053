"""Building courses for tests through the authoring API, as an admin would."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

COURSES = "/api/v1/courses"


def quiz(n: int = 5, *, pass_mark: int = 80, max_attempts: int = 0) -> dict[str, Any]:
    """n true/false questions whose answer is always "True"."""
    return {
        "kind": "quiz",
        "title": "Check",
        "pass_mark": pass_mark,
        "max_attempts": max_attempts,
        "questions": [
            {
                "kind": "true_false",
                "prompt": f"Statement {i}",
                "explanation": "Because.",
                "options": [{"text": "True", "correct": True}, {"text": "False"}],
            }
            for i in range(n)
        ],
    }


TEXT = {"kind": "text", "title": "Read me", "body": "# Hello\n\nSome **text**."}
POLICY = {
    "kind": "policy",
    "title": "Email policy",
    "body": "Do not forward mail.",
    "statement": "I accept the email policy.",
}


async def make_course(
    client: AsyncClient,
    headers: dict[str, str],
    lessons: list[dict[str, Any]] | None = None,
    *,
    publish: bool = True,
    title: str = "Phishing 101",
) -> dict[str, Any]:
    """A course with one module holding `lessons` (default: text, policy, quiz)."""
    r = await client.post(COURSES, json={"title": title}, headers=headers)
    assert r.status_code == 201, r.text
    course = r.json()
    r = await client.post(
        f"{COURSES}/{course['id']}/modules", json={"title": "Basics"}, headers=headers
    )
    assert r.status_code == 201, r.text
    module = r.json()
    made = []
    for lesson in lessons if lessons is not None else [TEXT, POLICY, quiz()]:
        r = await client.post(
            f"{COURSES}/{course['id']}/modules/{module['id']}/lessons",
            json=lesson,
            headers=headers,
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    if publish:
        r = await client.post(f"{COURSES}/{course['id']}/publish", headers=headers)
        assert r.status_code == 200, r.text
        course = r.json()
    return {**course, "module": module, "lessons": made}
