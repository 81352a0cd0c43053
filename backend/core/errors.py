"""One renderer for every error the API answers with.

Body: `{"error": {"code", "message", "details"}, "request_id"}`. Domain errors, validation
errors, Starlette's HTTP errors (404 unknown route, 405, 413 …) all pass through here; the
last-resort 500 is rendered by `core.middleware.RequestContextMiddleware` so that it, too,
carries the request id and the security headers, and never a traceback.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from core.context import request_id_var
from core.exceptions import AppError

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def error_body(code: str, message: str, details: Any = None) -> bytes:
    return orjson.dumps(
        {
            "error": {"code": code, "message": message, "details": details},
            "request_id": request_id_var.get(),
        },
        default=str,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(code, message, details),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _app_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    return error_response(
        exc.status_code, exc.code, exc.detail_message, exc.details, exc.headers or None
    )


def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"http_{status}")
    if status == 404:
        message = "No such resource or route."
    elif isinstance(exc.detail, str) and exc.detail and exc.detail != HTTPStatus(status).phrase:
        message = exc.detail
    else:
        message = HTTPStatus(status).phrase
    return error_response(status, code, message, None, dict(exc.headers or {}) or None)


def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        # `input` and `ctx` are left out on purpose: they may echo a password back.
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    if any(err["type"] == "json_invalid" for err in errors):
        return error_response(400, "invalid_json", "The request body is not valid JSON.", errors)
    return error_response(422, "validation_error", "The request is not valid.", errors)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
