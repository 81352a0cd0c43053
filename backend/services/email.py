"""System email (invitations, password resets, notices): render, build, send.

`send_email` renders one of our templates under `templates/emails/`, wraps it in a
text + HTML message and hands it to the backend the settings choose: SMTP, SendGrid's HTTP
API, or an outbox folder of `.eml` files for laptops and tests. Bodies and links carry
tokens, so logs name only the recipient's domain, the template and the outcome.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosmtplib
import httpx
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from loguru import logger
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import BACKEND_DIR, Settings, settings
from db.session import after_commit

TEMPLATES_DIR = BACKEND_DIR / "templates"
SENDGRID_URL = "https://api.sendgrid.com"
SENDGRID_TIMEOUT = 15.0
# Enough of a server's reply to diagnose a failure, not a whole HTML error page.
MAX_DETAIL = 500
# Headers SendGrid builds from its own JSON fields and refuses as custom headers.
_SENDGRID_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)

SmtpSecurity = Literal["starttls", "tls", "none"]


class EmailError(Exception):
    """Delivery failed; `code` is the SMTP or HTTP status, None when no server answered."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code} {message}" if code is not None else message)
        self.code = code
        self.message = message


class TemporaryEmailError(EmailError):
    """Worth retrying later: the server was busy, unreachable or asked us to wait."""


class PermanentEmailError(EmailError):
    """Retrying will not help: unknown address, refused credentials, rejected content."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class SendResult:
    accepted: bool  # False only when an SMTP server refused some (not all) recipients
    detail: str
    message_id: str


class EmailBackend(Protocol):
    async def send(self, message: EmailMessage) -> SendResult: ...


# --- rendering ---


def format_datetime(value: datetime) -> str:
    """'3 March 2025, 14:00 UTC': one unambiguous form for readers in any country."""
    if value.tzinfo is None:
        raise ValueError("emails show aware datetimes only; a naive one has no known zone")
    utc = value.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y, %H:%M} UTC"


@cache
def template_environment() -> Environment:
    # These are system templates we write and review, never user-supplied, so the ordinary
    # (non-sandboxed) environment is right. User-authored content needs the sandbox.
    # Autoescape is on for .html and off for the text parts and subject, which are not HTML.
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["datetime"] = format_datetime
    return environment


def render_email(template: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render `emails/<template>.{subject.txt,txt,html}`; a missing variable raises."""
    environment = template_environment()
    values = {**context, "app_name": settings.app_name, "public_url": settings.public_url}
    subject = environment.get_template(f"emails/{template}.subject.txt").render(values)
    return RenderedEmail(
        # A header is one line; the template may wrap for readability.
        subject=" ".join(subject.split()),
        text=environment.get_template(f"emails/{template}.txt").render(values),
        html=environment.get_template(f"emails/{template}.html").render(values),
    )


# --- the message ---


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower()


def build_message(
    to: str,
    rendered: RenderedEmail,
    *,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) from `settings.email_from`."""
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(usegmt=True)
    # Without a domain make_msgid asks the resolver for our FQDN, which can be slow.
    domain = _domain(settings.email_from) or "localhost"
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    # RFC 3834: tells out-of-office responders not to answer a system message.
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        del message[name]
        message[name] = value
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _message_id(message: EmailMessage) -> str:
    return str(message.get("Message-ID", ""))


# --- backends ---


def _smtp_error(code: int, message: str) -> EmailError:
    kind = PermanentEmailError if code >= 500 else TemporaryEmailError
    return kind(code, message)


class SmtpBackend:
    """Delivers through an SMTP server with aiosmtplib, one connection per message."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        security: SmtpSecurity = "starttls",
        timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security = security
        self.timeout = timeout

    @classmethod
    def from_settings(cls, cfg: Settings) -> SmtpBackend:
        if not cfg.smtp_host:
            raise ValueError("VIGIL_SMTP_HOST must be set to send email over SMTP")
        return cls(
            cfg.smtp_host,
            cfg.smtp_port,
            username=cfg.smtp_username,
            password=cfg.smtp_password,
            security=cfg.smtp_security,
            timeout=cfg.smtp_timeout,
        )

    async def send(self, message: EmailMessage) -> SendResult:
        try:
            errors, reply = await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                # aiosmtplib logs in whenever a username is given.
                password=self.password.get_secret_value() if self.password else None,
                use_tls=self.security == "tls",
                # True, not None: never fall back to plain text when STARTTLS is missing.
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise _smtp_error(first.code, first.message) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError) as exc:
            raise TemporaryEmailError(None, str(exc)) from exc
        except (aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            raise TemporaryEmailError(None, str(exc) or type(exc).__name__) from exc
        except aiosmtplib.SMTPException as exc:
            # E.g. STARTTLS or AUTH not offered: a configuration problem, not a busy server.
            raise PermanentEmailError(None, str(exc)) from exc
        return SendResult(accepted=not errors, detail=reply, message_id=_message_id(message))


def sendgrid_payload(message: EmailMessage) -> dict[str, Any]:
    """SendGrid's v3 mail/send JSON for a message built by `build_message`."""
    name, address = parseaddr(str(message["From"]))
    sender: dict[str, str] = {"email": address, **({"name": name} if name else {})}
    recipients = [{"email": addr} for _, addr in getaddresses(message.get_all("To", []))]
    content = []
    for subtype in ("plain", "html"):  # SendGrid requires text/plain first
        part = message.get_body(preferencelist=(subtype,))
        if isinstance(part, EmailMessage):
            content.append({"type": f"text/{subtype}", "value": part.get_content()})
    payload: dict[str, Any] = {
        "personalizations": [{"to": recipients}],
        "from": sender,
        "subject": str(message["Subject"]),
        "content": content,
    }
    headers = {k: str(v) for k, v in message.items() if k.lower() not in _SENDGRID_OWN_HEADERS}
    if headers:
        payload["headers"] = headers
    if reply_to := message.get("Reply-To"):
        payload["reply_to"] = {"email": parseaddr(str(reply_to))[1]}
    return payload


class SendGridBackend:
    """Delivers through SendGrid's v3 HTTP API."""

    def __init__(
        self,
        api_key: SecretStr,
        *,
        base_url: str = SENDGRID_URL,
        timeout: float = SENDGRID_TIMEOUT,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_settings(cls, cfg: Settings) -> SendGridBackend:
        if cfg.sendgrid_api_key is None:
            raise ValueError("VIGIL_SENDGRID_API_KEY must be set to send email with SendGrid")
        return cls(cfg.sendgrid_api_key)

    async def send(self, message: EmailMessage) -> SendResult:
        auth = {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as http:
                response = await http.post(
                    "/v3/mail/send", json=sendgrid_payload(message), headers=auth
                )
        except httpx.HTTPError as exc:
            raise TemporaryEmailError(None, f"SendGrid unreachable ({type(exc).__name__})") from exc
        status = response.status_code
        if response.is_success:
            detail = f"{status} {response.headers.get('X-Message-Id', '')}".strip()
            return SendResult(accepted=True, detail=detail, message_id=_message_id(message))
        detail = response.text[:MAX_DETAIL]
        if status == 429 or status >= 500:
            raise TemporaryEmailError(status, detail)
        raise PermanentEmailError(status, detail)


class OutboxBackend:
    """Writes each message to `<directory>/<utc timestamp>-<random>.eml` instead of sending."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> SendResult:
        try:
            path = await asyncio.to_thread(self._write, message.as_bytes())
        except OSError as exc:
            raise TemporaryEmailError(None, f"outbox not writable ({exc.strerror})") from exc
        return SendResult(accepted=True, detail=str(path), message_id=_message_id(message))

    def _write(self, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        # Whoever watches the folder must never see half a message: write beside, then rename.
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return path


def get_email_backend(cfg: Settings = settings) -> EmailBackend:
    """The backend `cfg.email_backend` names; "auto" picks SMTP, then SendGrid, then outbox."""
    choice = cfg.email_backend
    if choice == "auto":
        choice = "smtp" if cfg.smtp_host else "sendgrid" if cfg.sendgrid_api_key else "outbox"
    if choice == "smtp":
        return SmtpBackend.from_settings(cfg)
    if choice == "sendgrid":
        return SendGridBackend.from_settings(cfg)
    if cfg.is_production:
        logger.warning(
            "system email goes to the outbox folder {}, not to people", cfg.email_outbox_dir
        )
    return OutboxBackend(cfg.email_outbox_dir)


async def send_email(
    to: str,
    template: str,
    context: Mapping[str, Any],
    *,
    backend: EmailBackend | None = None,
) -> SendResult:
    """Render `template` with `context` and send it to `to`; raises EmailError on failure."""
    message = build_message(to, render_email(template, context))
    backend = backend if backend is not None else get_email_backend()
    via, domain = type(backend).__name__, _domain(to)
    try:
        result = await backend.send(message)
    except EmailError as exc:
        # Code and kind only: a server's reply may quote the address back.
        logger.warning(
            "email {} to @{} failed via {}: {} {}",
            template,
            domain,
            via,
            type(exc).__name__,
            exc.code,
        )
        raise
    logger.info("email {} to @{} sent via {}", template, domain, via)
    return result


def send_after_commit(
    session: AsyncSession, to: str, template: str, context: Mapping[str, Any]
) -> None:
    """Email once `session` has committed: never for a change that rolled back. A link's
    token travels in the message only, never through a queue or a log."""

    async def send() -> None:
        await send_email(to, template, context)

    after_commit(session, send)
