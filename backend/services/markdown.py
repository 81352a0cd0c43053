"""Lesson Markdown → HTML learners can be shown safely.

markdown-it-py renders CommonMark (+ tables and strikethrough) and the result goes through
the lesson sanitizer (`services.html_sanitizer.sanitize_lesson`). Raw HTML inside the
Markdown is allowed when it is harmless; HTML that tries to run something (scripts, event
handlers, `javascript:` links, frames, objects) is refused with a 422 naming what was found,
so an author learns at once rather than publishing a silently mangled lesson.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from core.exceptions import ValidationFailed
from services.html_sanitizer import sanitize_lesson

_md = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])

_UNSAFE = re.compile(
    r"<\s*/?\s*(script|iframe|object|embed|frame|frameset|form|style|link|meta|base|svg|math)\b"
    r"|\son[a-z]+\s*="
    r"|(java|vb)script\s*:"
    r"|data\s*:\s*text/html",
    re.IGNORECASE,
)


class UnsafeMarkdown(ValidationFailed):
    code = "unsafe_markup"
    message = "The Markdown contains HTML that could run code (script, event handler or similar)."


def render(markdown: str, *, field: str = "body") -> str:
    tokens = _md.parse(markdown)
    for token in tokens:
        pieces = [token, *(token.children or [])]
        for piece in pieces:
            if piece.type in ("html_block", "html_inline"):
                _check(piece.content, field)
            href = piece.attrGet("href") or piece.attrGet("src")
            if href is not None:
                _check(str(href), field)
    return sanitize_lesson(_md.renderer.render(tokens, _md.options, {}))


def _check(html: str, field: str) -> None:
    found = _UNSAFE.search(html)
    if found:
        raise UnsafeMarkdown(details={"field": field, "found": found.group(0).strip()[:40]})
