"""HTTP middleware, written as plain ASGI: Starlette's `BaseHTTPMiddleware` costs a task and
a queue per request, which on this stack is a fifth of a small request's CPU.

Order, outermost first (see `install_middleware`):
  RequestContext (request id, security headers, metrics, access log, last-resort 500)
  → CORS → BodySizeLimit → GZip → the app.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable

from fastapi import FastAPI
from loguru import logger
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Settings
from core.context import request_id_var
from core.errors import error_body
from core.monitoring import HTTP_IN_FLIGHT, request_metrics

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc are served from our own origin (fastapi-offline) but start with an
# inline script.
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PREFIXES = ("/docs", "/redoc", "/static-offline-docs")


def _security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if settings.is_production:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


async def _send_error(
    send: Send, status: int, code: str, message: str, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Gives every request an id, and every response that id and the security headers;
    records metrics and one access-log line; turns an unhandled exception into a 500 with
    the error body, logged with its traceback on our side only."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.access_log = settings.access_log
        self.security_headers = _security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        incoming = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                incoming = value
                break
        valid_incoming = incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming)
        request_id = incoming.decode() if valid_incoming and incoming else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        rid_header = (REQUEST_ID_HEADER, request_id.encode())
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(DOCS_PREFIXES) else API_CSP
        security_headers = self.security_headers
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.raw.append(rid_header)
                if "content-security-policy" not in headers:
                    headers.raw.append((b"content-security-policy", csp))
                headers.raw.extend(security_headers)
            await send(message)

        if scope["type"] == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                request_id_var.reset(token)
            return

        start = time.perf_counter()
        HTTP_IN_FLIGHT.inc()
        try:
            if incoming is not None and not valid_incoming:
                await _send_error(
                    send_wrapper,
                    400,
                    "invalid_request_id",
                    "X-Request-ID must be 1-128 printable characters from [A-Za-z0-9._:@/+=-].",
                )
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("Unhandled error while serving {} {}", scope["method"], path)
            if not started:
                await _send_error(
                    send_wrapper, 500, "internal_error", "An unexpected error occurred."
                )
        finally:
            HTTP_IN_FLIGHT.dec()
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            # The template, not the raw path: no unbounded labels, and no token that travels
            # in a path (tracking links, invitations) ever reaches a log line.
            template = getattr(route, "path", None) or "<unmatched>"
            request_metrics.observe(scope["method"], template, status, elapsed)
            if self.access_log:
                logger.info(
                    "{} {} {} {:.1f}ms", scope["method"], template, status, elapsed * 1000.0
                )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit: at once when Content-Length says so, and while
    reading when the body is streamed without one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await _send_error(send, 400, "bad_request", "Invalid Content-Length header.")
                    return
                if int(value) > self.max_bytes:
                    await _send_error(send, 413, "payload_too_large", self._message())
                    return
                break

        received = 0
        max_bytes = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."


def install_middleware(app: FastAPI, settings: Settings) -> None:
    # add_middleware puts each new one outside the previous: add innermost first.
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, settings=settings)
