from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from loguru import logger
from pydantic import SecretStr

from core.config import Settings, settings
from services.email import (
    OutboxBackend,
    PermanentEmailError,
    RenderedEmail,
    SendGridBackend,
    SmtpBackend,
    TemporaryEmailError,
    build_message,
    get_email_backend,
    render_email,
    send_email,
)
from tests.support.smtp import SmtpTestServer, smtp_test_server

EXPIRES = datetime(2030, 3, 4, 15, 30, tzinfo=UTC)
CONTEXTS: dict[str, dict[str, Any]] = {
    "invitation": {
        "inviter_name": "Ada Admin",
        "company_name": "Acme",
        "accept_url": "https://vigil.example/invite?token=inv-tok-123",
        "expires_at": EXPIRES,
    },
    "password_reset": {
        "reset_url": "https://vigil.example/reset?token=reset-tok-456",
        "expires_minutes": 60,
    },
    "password_changed": {},
    "report_thanks": {"reported_subject": "Your invoice is overdue"},
    "remedial_training": {
        "first_name": "Ada",
        "course_title": "Phishing basics",
        "due_days": 14,
        "training_url": "https://vigil.example.com/me/enrollments",
    },
    "webhook_disabled": {
        "url": "https://hooks.acme.example.com/vigil",
        "reason": "15 deliveries in a row failed.",
        "last_error": "HTTP 500: oops",
        "timeout": "10",
    },
    "training_reminder": {
        "kind": "before_due",
        "learner_name": "Ann Learner",
        "course_title": "Phishing basics",
        "company_name": "Acme",
        "due_at": EXPIRES,
        "percent": 40,
        "course_url": "https://vigil.example/training/123",
    },
    "training_escalation": {
        "manager_name": "Bob Boss",
        "learner_name": "Ann Learner",
        "learner_email": "ann@acme.example.com",
        "course_title": "Phishing basics",
        "due_at": EXPIRES,
        "percent": 40,
    },
}
BUSY = "busy@example.com"
UNKNOWN = "nobody@example.com"
SMTP_USER, SMTP_PASSWORD = "mailer", "correct horse"


def _rendered() -> RenderedEmail:
    return RenderedEmail(subject="Hello", text="Plain body\n", html="<p>HTML body</p>\n")


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpTestServer]:
    replies = {BUSY: "451 try later", UNKNOWN: "550 no such user"}
    async with smtp_test_server(replies=replies) as server:
        yield server


@pytest.fixture
async def smtp_with_auth() -> AsyncIterator[SmtpTestServer]:
    async with smtp_test_server(credentials=(SMTP_USER, SMTP_PASSWORD)) as server:
        yield server


# --- a stand-in for SendGrid's API on loopback ---


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class SendGridStub:
    url: str = ""
    status: int = 202
    requests: list[RecordedRequest] = field(default_factory=list)


class _StubServer(ThreadingHTTPServer):
    stub: SendGridStub


class _StubHandler(BaseHTTPRequestHandler):
    server: _StubServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        stub = self.server.stub
        stub.requests.append(RecordedRequest(self.path, dict(self.headers.items()), body))
        reply = b"" if stub.status < 300 else b'{"errors":[{"message":"stub says no"}]}'
        self.send_response(stub.status)
        self.send_header("X-Message-Id", "sg-msg-1")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


@pytest.fixture
def sendgrid() -> Iterator[SendGridStub]:
    server = _StubServer(("127.0.0.1", 0), _StubHandler)
    server.stub = SendGridStub(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.stub
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    # Only this module's lines: once stdlib logging is routed to loguru, aiosmtpd logs too.
    sink = logger.add(
        lambda m: lines.append(str(m)), level="INFO", format="{message}", filter="services.email"
    )
    yield lines
    logger.remove(sink)


# --- rendering ---


class TestRenderEmail:
    @pytest.mark.parametrize("template", sorted(CONTEXTS))
    def test_renders_subject_text_and_html(self, template):
        rendered = render_email(template, CONTEXTS[template])
        assert rendered.subject
        assert "\n" not in rendered.subject
        assert settings.app_name in rendered.text
        assert rendered.html.startswith("<!doctype html>")
        assert 'lang="en"' in rendered.html

    def test_links_appear_in_both_parts(self):
        rendered = render_email("invitation", CONTEXTS["invitation"])
        url = CONTEXTS["invitation"]["accept_url"]
        assert url in rendered.text
        assert f'href="{url}"' in rendered.html
        assert "4 March 2030, 15:30 UTC" in rendered.text

    def test_html_escapes_context_values(self):
        hostile = "<script>alert(1)</script>"
        rendered = render_email("report_thanks", {"reported_subject": hostile})
        assert "<script>" not in rendered.html
        assert "&lt;script&gt;" in rendered.html
        assert hostile in rendered.text

    def test_missing_variable_raises(self):
        context = {k: v for k, v in CONTEXTS["invitation"].items() if k != "accept_url"}
        with pytest.raises(UndefinedError, match="accept_url"):
            render_email("invitation", context)

    def test_password_reset_says_to_ignore_if_not_asked(self):
        rendered = render_email("password_reset", CONTEXTS["password_reset"])
        assert "If you did not ask for this, ignore this email" in rendered.text
        assert "If you did not ask for this, ignore this email" in rendered.html
        assert "60 minutes" in rendered.text

    def test_naive_expiry_is_refused(self):
        context = {**CONTEXTS["invitation"], "expires_at": datetime(2030, 1, 1)}
        with pytest.raises(ValueError, match="naive"):
            render_email("invitation", context)


class TestBuildMessage:
    def test_multipart_alternative_with_both_parts(self):
        message = build_message("bob@example.com", _rendered())
        assert message.get_content_type() == "multipart/alternative"
        assert message["From"] == settings.email_from
        assert message["To"] == "bob@example.com"
        assert message["Subject"] == "Hello"
        assert message["Date"].datetime.tzinfo is not None
        assert message["Message-ID"].endswith("@vigil.localhost>")
        plain, html = (part.get_content_type() for part in message.iter_parts())
        assert (plain, html) == ("text/plain", "text/html")

    def test_given_message_id_and_headers_win(self):
        message = build_message(
            "bob@example.com",
            _rendered(),
            message_id="<fixed@vigil.example>",
            headers={"X-Vigil-Template": "invitation", "Auto-Submitted": "auto-replied"},
        )
        assert message["Message-ID"] == "<fixed@vigil.example>"
        assert message["X-Vigil-Template"] == "invitation"
        assert message.get_all("Auto-Submitted") == ["auto-replied"]


# --- backends ---


def _smtp_backend(server: SmtpTestServer, **options: Any) -> SmtpBackend:
    return SmtpBackend(server.host, server.port, security="none", timeout=5, **options)


class TestSmtpBackend:
    async def test_server_receives_the_message(self, smtp):
        message = build_message("bob@example.com", _rendered())
        result = await _smtp_backend(smtp).send(message)
        assert result.accepted
        assert result.message_id == message["Message-ID"]
        assert "accepted" in result.detail
        (mail,) = smtp.received
        assert mail.mail_from == "no-reply@vigil.localhost"
        assert mail.rcpt_tos == ["bob@example.com"]
        assert mail.message["Subject"] == "Hello"
        assert _body(mail.message, "plain") == "Plain body\n"
        assert _body(mail.message, "html") == "<p>HTML body</p>\n"

    async def test_logs_in_when_username_is_set(self, smtp_with_auth):
        backend = _smtp_backend(
            smtp_with_auth, username=SMTP_USER, password=SecretStr(SMTP_PASSWORD)
        )
        await backend.send(build_message("bob@example.com", _rendered()))
        assert len(smtp_with_auth.received) == 1

    async def test_wrong_password_is_permanent(self, smtp_with_auth):
        backend = _smtp_backend(smtp_with_auth, username=SMTP_USER, password=SecretStr("nope"))
        with pytest.raises(PermanentEmailError) as caught:
            await backend.send(build_message("bob@example.com", _rendered()))
        assert caught.value.code == 535
        assert smtp_with_auth.received == []

    async def test_4xx_reply_is_temporary(self, smtp):
        with pytest.raises(TemporaryEmailError) as caught:
            await _smtp_backend(smtp).send(build_message(BUSY, _rendered()))
        assert (caught.value.code, caught.value.message) == (451, "try later")
        assert smtp.received == []

    async def test_5xx_reply_is_permanent(self, smtp):
        with pytest.raises(PermanentEmailError) as caught:
            await _smtp_backend(smtp).send(build_message(UNKNOWN, _rendered()))
        assert (caught.value.code, caught.value.message) == (550, "no such user")

    async def test_connection_refused_is_temporary(self):
        backend = SmtpBackend("127.0.0.1", _free_port(), security="none", timeout=5)
        with pytest.raises(TemporaryEmailError) as caught:
            await backend.send(build_message("bob@example.com", _rendered()))
        assert caught.value.code is None


class TestSendGridBackend:
    async def test_posts_json_with_bearer_key(self, sendgrid):
        backend = SendGridBackend(SecretStr("sg-key-1"), base_url=sendgrid.url)
        message = build_message("bob@example.com", _rendered())
        result = await backend.send(message)
        assert result.accepted
        assert result.message_id == message["Message-ID"]
        assert result.detail == "202 sg-msg-1"
        (request,) = sendgrid.requests
        assert request.path == "/v3/mail/send"
        assert request.headers["Authorization"] == "Bearer sg-key-1"
        assert request.body["personalizations"] == [{"to": [{"email": "bob@example.com"}]}]
        assert request.body["from"] == {"email": "no-reply@vigil.localhost", "name": "Vigil"}
        assert request.body["subject"] == "Hello"
        assert request.body["content"] == [
            {"type": "text/plain", "value": "Plain body\n"},
            {"type": "text/html", "value": "<p>HTML body</p>\n"},
        ]
        assert request.body["headers"]["Message-ID"] == message["Message-ID"]
        assert "Subject" not in request.body["headers"]

    async def test_bad_request_is_permanent(self, sendgrid):
        sendgrid.status = 400
        backend = SendGridBackend(SecretStr("sg-key-1"), base_url=sendgrid.url)
        with pytest.raises(PermanentEmailError) as caught:
            await backend.send(build_message("bob@example.com", _rendered()))
        assert caught.value.code == 400
        assert "stub says no" in caught.value.message

    @pytest.mark.parametrize("status", [429, 503])
    async def test_throttled_or_down_is_temporary(self, sendgrid, status):
        sendgrid.status = status
        backend = SendGridBackend(SecretStr("sg-key-1"), base_url=sendgrid.url)
        with pytest.raises(TemporaryEmailError) as caught:
            await backend.send(build_message("bob@example.com", _rendered()))
        assert caught.value.code == status

    async def test_unreachable_is_temporary(self):
        backend = SendGridBackend(SecretStr("k"), base_url=f"http://127.0.0.1:{_free_port()}")
        with pytest.raises(TemporaryEmailError):
            await backend.send(build_message("bob@example.com", _rendered()))


class TestOutboxBackend:
    async def test_writes_a_parseable_eml(self, tmp_path):
        outbox = tmp_path / "var" / "outbox"
        message = build_message("bob@example.com", _rendered())
        result = await OutboxBackend(outbox).send(message)
        (path,) = outbox.iterdir()  # the temporary file is gone
        assert path.suffix == ".eml"
        assert result.detail == str(path)
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        assert parsed["Message-ID"] == message["Message-ID"] == result.message_id
        assert _body(parsed, "html") == "<p>HTML body</p>\n"

    async def test_each_message_gets_its_own_file(self, tmp_path):
        backend = OutboxBackend(tmp_path)
        for _ in range(3):
            await backend.send(build_message("bob@example.com", _rendered()))
        assert len(list(tmp_path.glob("*.eml"))) == 3


class TestGetEmailBackend:
    @pytest.mark.parametrize(
        ("choice", "smtp_host", "sendgrid_key", "expected"),
        [
            ("auto", "smtp.example.com", None, SmtpBackend),
            ("auto", "smtp.example.com", "sg-key", SmtpBackend),
            ("auto", None, "sg-key", SendGridBackend),
            ("auto", None, None, OutboxBackend),
            ("sendgrid", "smtp.example.com", "sg-key", SendGridBackend),
            ("outbox", "smtp.example.com", "sg-key", OutboxBackend),
            ("smtp", "smtp.example.com", None, SmtpBackend),
        ],
    )
    def test_picks_backend(self, choice, smtp_host, sendgrid_key, expected):
        cfg = Settings(email_backend=choice, smtp_host=smtp_host, sendgrid_api_key=sendgrid_key)
        assert type(get_email_backend(cfg)) is expected

    @pytest.mark.parametrize("choice", ["smtp", "sendgrid"])
    def test_forced_backend_without_its_setting_raises(self, choice):
        cfg = Settings(email_backend=choice, smtp_host=None, sendgrid_api_key=None)
        with pytest.raises(ValueError, match="must be set"):
            get_email_backend(cfg)

    def test_smtp_backend_follows_settings(self):
        cfg = Settings(
            email_backend="auto",
            smtp_host="smtp.example.com",
            smtp_port=465,
            smtp_security="tls",
            smtp_username="mailer",
            smtp_password="pw",
            smtp_timeout=3,
        )
        backend = get_email_backend(cfg)
        assert isinstance(backend, SmtpBackend)
        assert (backend.host, backend.port, backend.security) == ("smtp.example.com", 465, "tls")
        assert (backend.username, backend.timeout) == ("mailer", 3)

    def test_outbox_uses_configured_dir(self, tmp_path):
        cfg = Settings(email_backend="outbox", email_outbox_dir=tmp_path)
        backend = get_email_backend(cfg)
        assert isinstance(backend, OutboxBackend)
        assert backend.directory == tmp_path


class TestSendEmail:
    async def test_renders_and_delivers(self, smtp):
        result = await send_email(
            "bob@example.com", "invitation", CONTEXTS["invitation"], backend=_smtp_backend(smtp)
        )
        assert result.accepted
        (mail,) = smtp.received
        assert mail.message["Subject"] == "Ada Admin invited you to join Acme on Vigil"
        assert "inv-tok-123" in _body(mail.message, "plain")

    async def test_logs_domain_and_template_only(self, tmp_path, log_lines):
        await send_email(
            "bob@example.com", "invitation", CONTEXTS["invitation"], backend=OutboxBackend(tmp_path)
        )
        (line,) = log_lines
        assert "@example.com" in line
        assert "invitation" in line
        assert "bob" not in line
        assert "inv-tok-123" not in line

    async def test_failure_is_logged_and_raised(self, smtp, log_lines):
        with pytest.raises(TemporaryEmailError):
            await send_email(
                BUSY, "password_reset", CONTEXTS["password_reset"], backend=_smtp_backend(smtp)
            )
        (line,) = log_lines
        assert "TemporaryEmailError 451" in line
        assert "busy" not in line
        assert "reset-tok-456" not in line


def test_contexts_cover_every_template():
    templates = Path(__file__).parents[2] / "templates" / "emails"
    names = {p.name.removesuffix(".subject.txt") for p in templates.glob("*.subject.txt")}
    assert names == set(CONTEXTS)
