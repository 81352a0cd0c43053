"""Sanitizing HTML that companies write for their landing pages (nh3, the Python binding of
the Rust `ammonia` sanitizer): an allow-list of tags and attributes, so no script, no
event handler, no `javascript:` URL, no iframe or object can reach a recipient's browser
on our domain. Forms and inputs are kept (a landing page is a fake sign-in form); their
`action` is dropped, because every form posts back to our own submit endpoint.
"""

from __future__ import annotations

import nh3

_FORM_TAGS = {
    "form",
    "input",
    "button",
    "label",
    "select",
    "option",
    "textarea",
    "fieldset",
    "legend",
    "main",
    "section",
    "html",
    "body",
    "head",
    "title",
    "meta",
}
TAGS = set(nh3.ALLOWED_TAGS) | _FORM_TAGS
_COMMON = {"class", "id", "style", "title", "lang", "dir", "role", "aria-label", "aria-hidden"}
ATTRIBUTES: dict[str, set[str]] = {
    "*": _COMMON,
    "a": {"href", "target"},
    "img": {"src", "alt", "width", "height"},
    "form": {"method", "autocomplete"},
    "input": {
        "type",
        "name",
        "value",
        "placeholder",
        "required",
        "autocomplete",
        "maxlength",
        "checked",
        "disabled",
        "readonly",
    },
    "button": {"type", "name", "value"},
    "label": {"for"},
    "select": {"name", "required"},
    "option": {"value", "selected"},
    "textarea": {"name", "placeholder", "rows", "cols", "required"},
    "meta": {"charset", "name", "content"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


# Lesson content (rendered Markdown): text, lists, tables, links and images; no forms.
LESSON_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "code": {"class"},  # language-xyz from fenced code blocks
    "td": {"colspan", "rowspan", "align", "style"},
    "th": {"colspan", "rowspan", "align", "style"},
    "ol": {"start"},
}


def sanitize_lesson(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(nh3.ALLOWED_TAGS),
        attributes=LESSON_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
