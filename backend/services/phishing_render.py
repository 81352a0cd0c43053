"""Rendering user-written phishing templates safely.

Templates are written by company admins, so they run in Jinja2's immutable sandbox: no
attribute tricks to reach Python internals, no mutation, undefined variables are errors.
HTML is autoescaped (a recipient named `<script>` stays text); `tracking_pixel` is the only
markup we inject. A template is rendered once with sample values when it is saved, so one
that cannot render, or that tries to escape the sandbox, is refused then with the reason —
not at send time, for thousands of recipients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from core.exceptions import ValidationFailed

VARIABLES = (
    "first_name",
    "last_name",
    "email",
    "title",
    "department",
    "company_name",
    "url",
    "report_url",
    "tracking_pixel",
    "from",
)
SAMPLE: dict[str, Any] = {
    "first_name": "Alex",
    "last_name": "Martin",
    "email": "alex.martin@example.com",
    "title": "Accountant",
    "department": "Finance",
    "company_name": "Example Corp",
    "url": "https://phish.example.com/t/c/sample-token",
    "report_url": "https://phish.example.com/t/r/sample-token",
    "tracking_pixel": Markup(
        '<img src="https://phish.example.com/t/o/sample" width="1" height="1" alt="">'
    ),
    "from": "IT Service Desk <it@example.com>",
}

_html_env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_text_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_JINJA_MARKERS = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


class TemplateInvalid(ValidationFailed):
    code = "template_invalid"
    message = "The template cannot be rendered."


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str | None
    text: str | None


def _render(
    env: ImmutableSandboxedEnvironment, field: str, source: str, values: dict[str, Any]
) -> str:
    try:
        return env.from_string(source).render(values)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(
            f"{field}: syntax error on line {exc.lineno}: {exc.message}",
            details={"field": field, "line": exc.lineno},
        ) from exc
    except UndefinedError as exc:
        raise TemplateInvalid(
            f"{field}: {exc.message}. Available: {', '.join(VARIABLES)}.",
            details={"field": field},
        ) from exc
    except SecurityError as exc:
        raise TemplateInvalid(
            f"{field}: not allowed in a template ({exc})", details={"field": field}
        ) from exc
    except TemplateError as exc:
        raise TemplateInvalid(f"{field}: {exc}", details={"field": field}) from exc


def render_html(field: str, source: str, values: dict[str, Any]) -> str:
    """Render user-written HTML in the sandbox, autoescaped; raises TemplateInvalid."""
    return _render(_html_env, field, source, values)


def render(subject: str, html: str | None, text: str | None, values: dict[str, Any]) -> Rendered:
    rendered_subject = _render(_text_env, "subject", subject, values)
    if "\n" in rendered_subject or "\r" in rendered_subject:
        raise TemplateInvalid("subject: must render on one line", details={"field": "subject"})
    return Rendered(
        subject=rendered_subject,
        html=_render(_html_env, "html", html, values) if html else None,
        text=_render(_text_env, "text", text, values) if text else None,
    )


@dataclass(frozen=True, slots=True)
class Compiled:
    """A saved template parsed once, to render for many recipients."""

    subject: Template
    html: Template | None
    text: Template | None


def compile_template(subject: str, html: str | None, text: str | None) -> Compiled:
    return Compiled(
        subject=_text_env.from_string(subject),
        html=_html_env.from_string(html) if html else None,
        text=_text_env.from_string(text) if text else None,
    )


def render_compiled(compiled: Compiled, values: dict[str, Any]) -> Rendered:
    """Render for one recipient; raises jinja2 errors (the template was checked when it
    was saved, so only data the check could not foresee gets here)."""
    subject = " ".join(compiled.subject.render(values).split())
    return Rendered(
        subject=subject,
        html=compiled.html.render(values) if compiled.html else None,
        text=compiled.text.render(values) if compiled.text else None,
    )


def validate(subject: str, html: str | None, text: str | None) -> Rendered:
    """Render with sample values; raises TemplateInvalid with the reason."""
    if not (html or text):
        raise TemplateInvalid("A template needs an HTML or a text body.")
    return render(subject, html, text, SAMPLE)


def escape_jinja(source: str) -> str:
    """Make imported content render as itself, even if it contains `{{` or `{%`."""
    return _JINJA_MARKERS.sub(lambda m: "{{ '" + m.group(0) + "' }}", source)
