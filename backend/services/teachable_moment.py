"""The teachable moment: the short, kind page a recipient sees after clicking or
submitting in a simulation — that it was an exercise, the email's red flags, and the
remedial course if there is one.

Ours is `templates/phishing/teachable_moment.html`. A company may replace it with its own
template (`companies.teachable_moment_html`): rendered in the same immutable sandbox as
phishing templates, with the same variables, checked when it is saved, and sanitized
after rendering (served, like every tracking page, under a CSP that runs no script).
"""

from __future__ import annotations

from typing import Any

from services import phishing_render
from services.email import template_environment
from services.html_sanitizer import sanitize

VARIABLES = (
    "company_name",
    "first_name",
    "template_subject",
    "red_flags",
    "remediation_url",
    "report_instructions",
)
SAMPLE: dict[str, Any] = {
    "company_name": "Example Corp",
    "first_name": "Alex",
    "template_subject": "Your password expires today",
    "red_flags": ["The sender's domain is not ours", "It asks you to act within the hour"],
    "remediation_url": "https://vigil.example.com/me/enrollments",
    "report_instructions": "Use the Report button in your mail client.",
}


def page(name: str, values: dict[str, Any] | None = None) -> str:
    """One of our own pages under `templates/phishing/`."""
    return template_environment().get_template(f"phishing/{name}.html").render(values or {})


def render(values: dict[str, Any], custom: str | None) -> str:
    if custom is None:
        return page("teachable_moment", values)
    return sanitize(phishing_render.render_html("teachable_moment_html", custom, values))


def check_teachable_moment(source: str) -> None:
    """Render a company's page with sample values; raises TemplateInvalid with the reason."""
    rendered = render(SAMPLE, source)
    if not rendered.strip():
        raise phishing_render.TemplateInvalid("teachable_moment_html: nothing is left to show")
