"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests that send mail.

It runs in the test's own event loop on a port the OS picks, so there is no thread and no
race for a free port. Use it from a fixture:

    @pytest.fixture
    async def smtp() -> AsyncIterator[SmtpTestServer]:
        async with smtp_test_server(replies={"busy@example.com": "451 try later"}) as server:
            yield server
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpTestServer:
    host: str
    port: int
    received: list[ReceivedMail] = field(default_factory=list)


class _Handler:
    """Accepts every recipient except those given a canned reply, and keeps what arrives."""

    def __init__(
        self,
        server: SmtpTestServer,
        replies: Mapping[str, str],
        data_replies: Mapping[str, str],
        drop_during_data: frozenset[str],
    ) -> None:
        self.server = server
        self.replies = {address.lower(): reply for address, reply in replies.items()}
        self.data_replies = {a.lower(): reply for a, reply in data_replies.items()}
        self.drop_during_data = {a.lower() for a in drop_during_data}

    # aiosmtpd passes every argument positionally; the unused ones keep a leading underscore.
    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: Any
    ) -> str:
        if reply := self.replies.get(address.lower()):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, _session: Session, envelope: Envelope) -> str:
        recipients = {a.lower() for a in envelope.rcpt_tos}
        if recipients & self.drop_during_data:
            # The data arrived but the connection breaks before the reply: the client
            # cannot know whether the message was accepted.
            transport = server.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            return "250 never seen"
        for address in recipients:
            if reply := self.data_replies.get(address):
                return reply
        # The wire uses CRLF; tests compare with the "\n" text they built the message from.
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        message = message_from_bytes(raw, policy=policy.default)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        self.server.received.append(mail)
        return "250 Message accepted for delivery"


def _authenticator(username: str, password: str) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data == LoginPassword(
            username.encode(), password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


@asynccontextmanager
async def smtp_test_server(
    *,
    replies: Mapping[str, str] | None = None,
    credentials: tuple[str, str] | None = None,
    data_replies: Mapping[str, str] | None = None,
    drop_during_data: frozenset[str] = frozenset(),
) -> AsyncIterator[SmtpTestServer]:
    """Serve SMTP on 127.0.0.1; `replies` maps a recipient to the reply RCPT gets,
    `data_replies` to the reply after its message data, and `drop_during_data` names
    recipients whose message data is followed by a dropped connection instead of a reply.

    With `credentials` the server offers AUTH (without TLS) and refuses mail until the
    client logs in with that username and password.
    """
    loop = asyncio.get_running_loop()
    state = SmtpTestServer(host="127.0.0.1", port=0)
    handler = _Handler(state, replies or {}, data_replies or {}, drop_during_data)
    auth: dict[str, Any] = {}
    if credentials:
        auth = {
            "authenticator": _authenticator(*credentials),
            "auth_required": True,
            "auth_require_tls": False,
        }

    def protocol() -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns that AUTH without TLS is unsafe: true, and fine on loopback.
            warnings.simplefilter("ignore")
            return SMTP(handler, hostname="localhost", loop=loop, **auth)

    server = await loop.create_server(protocol, state.host, 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()
