"""A real webhook receiver on 127.0.0.1 that checks Vigil's signature the way the README
tells integrators to, and answers with a scripted sequence of status codes."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

TOLERANCE_SECONDS = 300


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The verification snippet of backend/README.md, as a receiver would write it."""
    parts = dict(item.split("=", 1) for item in headers["vigil-signature"].split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str
    secret: str = ""
    # Status codes to answer with, in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            index = min(len(self.received), len(self.statuses) - 1)
            return self.statuses[index]


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(url="")
    if statuses:
        receiver.statuses = statuses

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.answer()
            ok = bool(receiver.secret) and verify(receiver.secret, headers, body)
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, ok))
            answer = b"receiver says no" if status >= 300 else b"ok"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://169.254.169.254/")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/vigil"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


async def make_endpoint(
    session: Any,
    company_id: Any,
    url: str,
    *,
    events: list[str] | None = None,
    secret: str = "whsec_test-secret-0123456789abcdef",  # noqa: S107
    **fields: Any,
) -> Any:
    """An endpoint row made directly (no URL checks), flushed; the test commits."""
    from core.crypto import encrypt_secret
    from models.webhook import WebhookEndpoint
    from services.webhook_delivery import SECRET_PURPOSE

    endpoint = WebhookEndpoint(
        company_id=company_id,
        url=url,
        events=events or ["*"],
        secret_encrypted=encrypt_secret(secret, purpose=SECRET_PURPOSE),
        consecutive_failures=0,
        **fields,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def emit_committed(company_id: Any, event_type: str, data: dict[str, Any]) -> None:
    """Emit as a feature would: in a unit of work of the app, bound to the company."""
    from db.scoping import bind_tenant
    from db.session import unit_of_work
    from services.webhooks import emit

    async with unit_of_work() as session:
        await bind_tenant(session, company_id)
        await emit(session, company_id, event_type, data)


async def deliveries(where: Any = None) -> list[Any]:
    """Every delivery row, oldest first, read fresh as the table owner."""
    from sqlalchemy import select

    from models.webhook import WebhookDelivery
    from tests.conftest import OwnerSession

    async with OwnerSession() as session:
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if where is not None:
            stmt = stmt.where(where)
        return list((await session.scalars(stmt)).all())


async def drive_until(check: Any, seconds: float = 15.0) -> None:
    """Run delivery passes until `await check()` is true (the app's own loop may help)."""
    import asyncio

    from services.webhook_delivery import deliver_due_webhooks

    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the deliveries did not reach the expected state in time")
        await deliver_due_webhooks()
        await asyncio.sleep(0.02)
