"""Logging through loguru: JSON lines in production, readable text elsewhere.

Every record carries the current request id; stdlib loggers (uvicorn, SQLAlchemy, taskiq)
are routed here; anything that looks like a password, token or secret is masked before a
line is written, whether it came as a structured field or inside the message.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import sys
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import orjson
from loguru import logger

from core.context import request_id_var

if TYPE_CHECKING:
    from loguru import Record

    from core.config import Settings

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authorization|api[_-]?key|cookie|session|otp|totp|"
    r"recovery|credential|private[_-]?key|signature",
    re.IGNORECASE,
)
# key=value / "key": "value" pairs and bearer credentials that slipped into a message.
_SENSITIVE_PAIR = re.compile(
    r"""(?P<key>["']?(?:[\w-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|authorization)[\w-]*)["']?)"""
    r"""(?P<sep>\s*[:=]\s*)(?P<q>["']?)(?P<value>[^\s"',;&}]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# A URL's user-info part (postgresql://user:password@host).
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def redact_text(text: str) -> str:
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SENSITIVE_PAIR.sub(
        lambda m: f"{m.group('key')}{m.group('sep')}{m.group('q')}{REDACTED}", text
    )


def redact_value(key: str, value: Any) -> Any:
    if _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _patch(record: Record) -> None:
    record["extra"]["request_id"] = request_id_var.get() or "-"
    record["message"] = redact_text(record["message"])
    for key in list(record["extra"]):
        if key != "request_id":
            record["extra"][key] = redact_value(key, record["extra"][key])


def _json_sink_format(record: Record) -> str:
    payload: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
        **record["extra"],
    }
    if record["exception"] is not None:
        exc_type, exc_value, _ = record["exception"]
        payload["exception"] = {
            "type": getattr(exc_type, "__name__", str(exc_type)),
            "message": redact_text(str(exc_value)),
        }
        payload["traceback"] = redact_text(_format_traceback(record))
    record["extra"]["_json"] = orjson.dumps(payload, default=str).decode()
    return "{extra[_json]}\n"


def _format_traceback(record: Record) -> str:
    exc = record["exception"]
    if exc is None:
        return ""
    return "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))


TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <8}</level> "
    "<cyan>{extra[request_id]}</cyan> <cyan>{name}</cyan> {message}"
)


class InterceptHandler(logging.Handler):
    """Send stdlib records to loguru, keeping the caller's location and level."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Walk out of the logging module so the record names the code that logged.
        frame: FrameType | None = inspect.currentframe()
        depth = 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


class AccessLog:
    """One line per request, written straight to stderr in the same format as every other
    line. It skips loguru on purpose: a loguru record costs ~45 µs here, as much as the
    whole FastAPI request it describes, and an access line needs none of its features (the
    message holds only the method, the route *template*, the status and the time, so there is
    nothing to redact)."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = (
            settings.access_log_enabled and logger.level(settings.log_level.upper()).no <= 20
        )
        self.json = settings.json_logs
        self.stream = sys.stderr

    _second = -1
    _prefix = ""

    def _stamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:  # format the date once a second, not once a request
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1000):03d}"

    def write(self, method: str, route: str, status: int, millis: float, request_id: str) -> None:
        if self.json:
            now = datetime.now(UTC)
            line = orjson.dumps(
                {
                    "time": now.isoformat(),
                    "level": "INFO",
                    "logger": "vigil.access",
                    "message": f"{method} {route} {status} {millis:.1f}ms",
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(millis, 2),
                }
            ).decode()
        else:
            stamp = self._stamp(time.time())
            line = (
                f"{stamp} INFO     {request_id} vigil.access "
                f"{method} {route} {status} {millis:.1f}ms"
            )
        # A closed or broken stream must never fail a request.
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(line + "\n")


def setup_logging(settings: Settings) -> None:
    logger.remove()
    logger.configure(patcher=_patch, extra={"request_id": "-"})
    if settings.json_logs:
        logger.add(sys.stderr, level=settings.log_level, format=_json_sink_format, backtrace=False)
    else:
        logger.add(
            sys.stderr,
            level=settings.log_level,
            format=TEXT_FORMAT,
            colorize=sys.stderr.isatty(),
            backtrace=False,
            diagnose=False,  # never print local variables: they can hold secrets
        )
    # Records below the configured level are never even built.
    logging.basicConfig(handlers=[InterceptHandler()], level=settings.log_level.upper(), force=True)
    # Uvicorn installs its own handlers; route them here instead. Its access log is replaced
    # by ours (core.middleware), which knows the request id and the route template.
    for name in ("uvicorn", "uvicorn.error", "taskiq", "sqlalchemy", "alembic"):
        std = logging.getLogger(name)
        std.handlers = [InterceptHandler()]
        std.propagate = False
    # No handler at all: uvicorn formats its access line whenever this logger has one.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if settings.db_echo else logging.WARNING
    )
