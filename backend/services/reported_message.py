"""Reading a reported email: headers, links and attachments, defensively.

The message comes from outside (usually an attacker wrote it), so nothing in it is trusted
or run: bodies are only searched for links, attachments are only measured and hashed.
Python's `email` parser is lenient (it records defects instead of raising); what it cannot
make sense of at all — no header, or a failure deep in a malformed part — is
`MalformedMessage`, a 422, never a 500.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from core.exceptions import ValidationFailed

MAX_URLS = 100
MAX_URL_LENGTH = 2048
MAX_ATTACHMENTS = 50
MAX_PARTS = 500
# A header value is shown, not parsed further; keep it to the column's size.
MAX_HEADER = 500
MAX_SUBJECT = 1000
# Headers that show the block is an email (one of them is enough).
_EMAIL_HEADERS = ("from", "sender", "subject", "date", "message-id", "received", "to")
_URL = re.compile(r"""(?i)\bhttps?://[^\s<>"'`{}|\\^\[\]]+""")
_TRAILING = ".,;:!?)]}'\""


class MalformedMessage(ValidationFailed):
    code = "report_message_malformed"
    message = "The reported message could not be read as an email (RFC 822)."


@dataclass(slots=True)
class ParsedMessage:
    tokens: list[str]  # values of our identifying header, outer message first
    from_address: str | None = None
    reply_to: str | None = None
    return_path: str | None = None
    subject: str | None = None
    sent_at: datetime | None = None
    message_id: str | None = None
    urls: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


def parse_message(raw: bytes, *, header_name: str) -> ParsedMessage:
    """Headers, links and attachments of `raw` (a whole message or only its headers).

    `tokens` also holds our header from a message forwarded as an attachment
    (message/rfc822 part), since some mail clients' report buttons wrap it that way."""
    if b"\x00" in raw[:4096]:
        raise MalformedMessage("The reported message is binary data, not an email.")
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
        if not any(name.lower() in _EMAIL_HEADERS for name in msg):
            raise MalformedMessage("The reported message has no email headers.")
        return _read(msg, header_name)
    except MalformedMessage:
        raise
    except (ValueError, TypeError, LookupError, IndexError, AttributeError, RecursionError) as exc:
        raise MalformedMessage() from exc


def _read(msg: Message, header_name: str) -> ParsedMessage:
    parsed = ParsedMessage(tokens=_tokens(msg, header_name))
    parsed.from_address = _header(msg, "From")
    parsed.reply_to = _header(msg, "Reply-To")
    parsed.return_path = _header(msg, "Return-Path")
    parsed.subject = _header(msg, "Subject", MAX_SUBJECT)
    parsed.message_id = _header(msg, "Message-ID")
    parsed.sent_at = _date(_header(msg, "Date"))
    urls: dict[str, None] = {}
    for index, part in enumerate(msg.walk()):
        if index >= MAX_PARTS:
            break
        if part.is_multipart():
            continue
        if part.get_content_type() == "message/rfc822" or isinstance(part.get_payload(), list):
            continue
        if _is_attachment(part):
            if len(parsed.attachments) < MAX_ATTACHMENTS:
                parsed.attachments.append(_attachment(part))
        elif part.get_content_maintype() == "text" and len(urls) < MAX_URLS:
            for url in _urls(_text(part)):
                urls.setdefault(url)
    parsed.urls = list(urls)[:MAX_URLS]
    return parsed


def _tokens(msg: Message, header_name: str) -> list[str]:
    found = [str(v).strip() for v in msg.get_all(header_name, [])]
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            for inner in part.get_payload() or []:
                if isinstance(inner, Message):
                    found += [str(v).strip() for v in inner.get_all(header_name, [])]
    return [t for t in found if 0 < len(t) <= 64]


def _header(msg: Message, name: str, limit: int = MAX_HEADER) -> str | None:
    value = msg.get(name)
    if value is None:
        return None
    text = _decode_header(value)
    text = " ".join(text.split())
    return text[:limit] or None


def _decode_header(value: Any) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError, TypeError):
        return str(value)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment" or part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart")


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _attachment(part: Message) -> dict[str, Any]:
    data = _payload(part)
    filename = part.get_filename()
    return {
        "filename": _decode_header(filename)[:255] if filename else None,
        "content_type": part.get_content_type()[:255],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _text(part: Message) -> str:
    data = _payload(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _urls(text: str) -> list[str]:
    found = []
    for match in _URL.finditer(text.replace("&amp;", "&")):
        url = match.group(0).rstrip(_TRAILING)
        if len(url) <= MAX_URL_LENGTH:
            found.append(url)
    return found
