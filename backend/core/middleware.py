"""HTTP middleware, written as plain ASGI: Starlette's `BaseHTTPMiddleware` costs a task and
a queue per request, which on this stack is a fifth of a small request's CPU.

Order, outermost first (see `install_middleware`):
  Edge (request id, body limit, gzip, security headers, metrics, access log, last 500)
  → CORS (when origins are configured) → the app.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from random import getrandbits

from fastapi import FastAPI
from loguru import logger
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Settings
from core.context import request_id_var
from core.errors import error_body
from core.logging import AccessLog
from core.monitoring import in_flight, request_metrics

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")

# JSON is never rendered as a document; this only has to forbid everything, framing included.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc are served from our own origin (fastapi-offline) but start with an
# inline script.
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PREFIXES = ("/docs", "/redoc", "/static-offline-docs")


# Every response: JSON cannot be framed or sniffed into HTML, and never leaks a referrer.
# Each header costs ~1.5 µs in uvicorn's writer, so the list stays short; CSP's
# frame-ancestors already does what X-Frame-Options did.
def _security_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


HSTS_HEADER = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


# HTML documents (the docs now; learner and landing pages later) also get these.
HTML_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


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


class EdgeMiddleware:
    """Everything that happens at the edge of every request, in one ASGI layer (each layer
    and each pass over the headers is a measurable share of a small request):

    - a request id: a sane `X-Request-ID` is kept, a malformed one refused (400), none made up;
    - the body limit: refused at once when Content-Length says too much, or while reading a
      chunked body (413);
    - gzip, entered only by requests that accept it;
    - every response gets the request id and the security headers;
    - metrics by route template, and the access-log line;
    - an unhandled exception becomes a 500 with the error body — the traceback is logged on
      our side only.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        fast_routes: Sequence[tuple[str, str, ASGIApp]] = (),
    ) -> None:
        self.app = app
        # (path prefix, route template, ASGI app) for GET/HEAD endpoints so hot that they
        # are called directly, without the framework's routing (the tracking pixel).
        self.fast_routes = tuple(fast_routes)
        self.gzip_app = GZipMiddleware(app, minimum_size=settings.gzip_min_bytes, compresslevel=6)
        self.max_body = settings.max_body_bytes
        self.access_log = AccessLog(settings)
        self.security_headers = _security_headers()
        self.hsts = HSTS_HEADER if settings.is_production else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        incoming = content_length = None
        app = self.app
        chunked = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value
            elif name == b"content-length":
                content_length = value
            elif name == b"accept-encoding":
                if b"gzip" in value:
                    app = self.gzip_app
            elif name == b"transfer-encoding":
                chunked = True
        valid_incoming = incoming is None or _SANE_REQUEST_ID.fullmatch(incoming) is not None
        # Not a secret, so no syscall for urandom: the PRNG is enough to tell requests apart.
        request_id = (
            incoming.decode() if incoming and valid_incoming else f"{getrandbits(128):032x}"
        )
        token = request_id_var.set(request_id)
        rid_header = (REQUEST_ID_HEADER, request_id.encode())
        path: str = scope["path"]
        security_headers = self.security_headers
        if self.hsts is not None and scope["scheme"] == "https":
            # Browsers ignore HSTS over plain HTTP (RFC 6797 §8.1), so only send it over TLS
            # (directly, or as reported by a trusted proxy through --proxy-headers).
            security_headers = [*security_headers, self.hsts]
        if path.startswith(DOCS_PREFIXES):
            csp, security_headers = DOCS_CSP, security_headers + HTML_HEADERS
        else:
            csp = API_CSP
        for prefix, template, fast_app in self.fast_routes:
            if path.startswith(prefix) and scope["method"] in ("GET", "HEAD"):
                app = fast_app
                scope["route"] = _FastRoute(template)
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                raw = message.get("headers")
                if not isinstance(raw, list):
                    raw = message["headers"] = list(raw or ())
                if not any(name == b"content-security-policy" for name, _ in raw):
                    raw.append((b"content-security-policy", csp))
                raw.append(rid_header)
                raw.extend(security_headers)
            await send(message)

        start = time.perf_counter()
        in_flight.value += 1
        try:
            refusal = self._refusal(valid_incoming, content_length)
            if refusal is not None:
                await _send_error(send_wrapper, *refusal)
            else:
                if chunked:
                    receive = self._limited(receive)
                await app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("Unhandled error while serving {} {}", scope["method"], path)
            if not started:
                await _send_error(
                    send_wrapper, 500, "internal_error", "An unexpected error occurred."
                )
        finally:
            in_flight.value -= 1
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            # The template, not the raw path: no unbounded labels, and no token that travels
            # in a path (tracking links, invitations) ever reaches a log line.
            template = getattr(route, "path", None) or "<unmatched>"
            request_metrics.observe(scope["method"], template, status, elapsed)
            if self.access_log.enabled:
                self.access_log.write(
                    scope["method"], template, status, elapsed * 1000.0, request_id
                )
            request_id_var.reset(token)

    def _refusal(
        self, valid_request_id: bool, content_length: bytes | None
    ) -> tuple[int, str, str] | None:
        if not valid_request_id:
            return (
                400,
                "invalid_request_id",
                "X-Request-ID must be 1-128 printable characters from [A-Za-z0-9._:@/+=-].",
            )
        if content_length is not None:
            if not content_length.isdigit():
                return 400, "bad_request", "Invalid Content-Length header."
            if int(content_length) > self.max_body:
                return 413, "payload_too_large", self._too_large()
        return None

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        max_bytes = self.max_body

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        return limited_receive

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body} bytes."

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = request_id_var.set(f"{getrandbits(128):032x}")
        try:
            await self.app(scope, receive, send)
        finally:
            request_id_var.reset(token)


@dataclass(frozen=True, slots=True)
class _FastRoute:
    """What the metrics read from `scope["route"]` for a fast route."""

    path: str


def install_middleware(
    app: FastAPI, settings: Settings, fast_routes: Sequence[tuple[str, str, ASGIApp]] = ()
) -> None:
    # add_middleware puts each new one outside the previous: add innermost first.
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
    app.add_middleware(EdgeMiddleware, settings=settings, fast_routes=fast_routes)
